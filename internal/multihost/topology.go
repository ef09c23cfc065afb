package multihost

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteTopology writes a topology for the hub into dir: the hub's Vault
// token and administrator password (0600, as vault-token and
// ziti-password), and topology.yaml made of the vault section (the hub's
// address, CA and token file, then vaultExtra: more lines of that section,
// indented by two spaces, or "") and the ziti section (the hub's
// controller, CA and administrator), followed by rest: the topology's other
// sections. It returns the topology file; a rest with "output: out" puts
// the output folder at dir/out.
func (hub *Hub) WriteTopology(dir, vaultExtra, rest string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("multihost: %w", err)
	}
	for name, secret := range map[string]string{"vault-token": hub.VaultToken, "ziti-password": hub.AdminPassword} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret), 0o600); err != nil {
			return "", fmt.Errorf("multihost: %w", err)
		}
	}
	head := fmt.Sprintf(`vault:
  address: %s
  caCert: %s
  tokenFile: vault-token
%sziti:
  controller: %s
  caCert: %s
  username: admin
  passwordFile: ziti-password
`, hub.VaultAddr, hub.VaultCAFile, vaultExtra, hub.ControllerURL, hub.CAFile)
	topology := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(topology, []byte(head+rest), 0o600); err != nil {
		return "", fmt.Errorf("multihost: %w", err)
	}
	return topology, nil
}
