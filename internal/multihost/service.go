package multihost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/testhosts"
)

// ServiceConfigPath is where [Hub.WriteServiceConfig] writes the
// configuration of the service name on node.
func ServiceConfigPath(node *testhosts.Host, name string) string {
	return filepath.Join(node.Dir, name, "configuration.yaml")
}

// WriteServiceConfig prepares the ztedge service name to run on node: it
// copies the service's credentials (from the provisioning output folder),
// the controller's CA and Vault's CA into <node.Dir>/<name>, and writes its
// configuration there: zerotrust mode, health port on the node's address
// (0 for none), and peers as zerotrust clients, a peer "NAME:PORT" being a
// TCP dependency reached with Service.Dial. It returns the configuration
// file ([ServiceConfigPath]).
func (hub *Hub) WriteServiceConfig(node *testhosts.Host, output, name string, health int, peers ...string) (string, error) {
	dir := filepath.Join(node.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("multihost: %w", err)
	}
	creds := filepath.Join(dir, "credentials.json")
	ca := filepath.Join(dir, "ziti-ca.pem")
	vaultCA := filepath.Join(dir, "vault-ca.pem")
	for _, c := range []struct {
		from, to string
		mode     os.FileMode
	}{{credentials.Path(output, name), creds, 0o600}, {hub.CAFile, ca, 0o644}, {hub.VaultCAFile, vaultCA, 0o644}} {
		b, err := os.ReadFile(c.from)
		if err != nil {
			return "", fmt.Errorf("multihost: %w", err)
		}
		if err := os.WriteFile(c.to, b, c.mode); err != nil {
			return "", fmt.Errorf("multihost: %w", err)
		}
	}
	cfg := fmt.Sprintf(`Service:
  Name: %s
  HealthHost: %s
  HealthPort: %d
  SecurityOptions:
    Mode: zerotrust
    OpenZitiController: %s
    OpenZitiCAFile: %s
    VaultCredentialsFile: %s
    VaultCAFile: %s
Clients:
`, name, node.IP, health, hub.ControllerURL, ca, creds, vaultCA)
	for _, p := range peers {
		if peer, port, dep := strings.Cut(p, ":"); dep {
			cfg += fmt.Sprintf("  %s:\n    Protocol: tcp\n    Port: %s\n    SecurityOptions:\n      Mode: zerotrust\n", peer, port)
			continue
		}
		cfg += fmt.Sprintf("  %s:\n    SecurityOptions:\n      Mode: zerotrust\n", p)
	}
	file := ServiceConfigPath(node, name)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("multihost: %w", err)
	}
	return file, nil
}
