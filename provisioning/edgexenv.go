package provisioning

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
)

// EnvVar is one environment variable of an EdgeX service.
type EnvVar struct {
	Name, Value string
}

// EdgeXSecretStoreEnv returns the environment an EdgeX 4 service needs to
// use Vault as its secret store with the token file ztedge writes, in both
// of EdgeX's modes:
//
//	EDGEX_SECURITY_SECRET_STORE=true
//	SECRETSTORE_TYPE=openbao                (EdgeX's only client; it speaks Vault's API)
//	SECRETSTORE_PROTOCOL, _HOST, _PORT      (from vault.address)
//	SECRETSTORE_ROOTCACERTPATH              (vault.caCert, https only)
//	SECRETSTORE_TOKENFILE                   (<output>/services/<name>/secrets-token.json)
//
// EdgeX reads these for every service, whatever its configuration file says.
func (t *Topology) EdgeXSecretStoreEnv(name string) (_ []EnvVar, err error) {
	defer prefixErr(&err)
	switch s, ok := t.serviceNamed(name); {
	case !ok:
		return nil, fmt.Errorf("edgex env: %q is not a service of the topology", name)
	case !s.EdgeX:
		return nil, fmt.Errorf("edgex env: service %q is not marked edgex: true in the topology, so provisioning writes no token file for it", name)
	}
	u, err := url.Parse(t.Vault.Address)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("edgex env: vault.address %q is not a URL", t.Vault.Address)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	output, err := filepath.Abs(t.Output)
	if err != nil {
		return nil, fmt.Errorf("edgex env: output %q: %w", t.Output, err)
	}
	env := []EnvVar{
		{"EDGEX_SECURITY_SECRET_STORE", "true"},
		{"SECRETSTORE_TYPE", "openbao"},
		{"SECRETSTORE_PROTOCOL", u.Scheme},
		{"SECRETSTORE_HOST", u.Hostname()},
		{"SECRETSTORE_PORT", port},
	}
	if u.Scheme == "https" && t.Vault.CACert != "" {
		env = append(env, EnvVar{"SECRETSTORE_ROOTCACERTPATH", t.Vault.CACert})
	}
	env = append(env, EnvVar{"SECRETSTORE_TOKENFILE", EdgeXTokenFile(output, name)})
	for _, e := range env {
		if strings.ContainsAny(e.Value, "\n\r\x00") {
			return nil, fmt.Errorf("edgex env: the value of %s holds a line break, which no environment file can carry", e.Name)
		}
	}
	return env, nil
}

// EdgeXEnv returns the environment EdgeX service name needs to run in
// zerotrust mode on the topology's network: the secret store settings of
// [Topology.EdgeXSecretStoreEnv], then
//
//	SERVICE_SECURITYOPTIONS_MODE=zerotrust
//	SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER=<ziti.controller>
//
// and for each service the dial rules let it call (its peers, sorted):
//
//	CLIENTS_<PEER>_PROTOCOL=http
//	CLIENTS_<PEER>_HOST=<peer's intercept host>
//	CLIENTS_<PEER>_PORT=<peer's intercept port>
//	CLIENTS_<PEER>_SECURITYOPTIONS_MODE=zerotrust
//	CLIENTS_<PEER>_SECURITYOPTIONS_OPENZITICONTROLLER=<ziti.controller>
//
// <PEER> is the peer's name in upper case with hyphens as underscores, as
// EdgeX derives it from Clients.<peer>. EdgeX compares the client mode
// case-sensitively, so the value is exactly "zerotrust". EdgeX applies an
// override only to a setting its configuration already has: the service's
// configuration must list each peer under Clients and the SecurityOptions
// keys Mode and OpenZitiController (EdgeX's common configuration does).
func (t *Topology) EdgeXEnv(name string) ([]EnvVar, error) {
	env, err := t.EdgeXSecretStoreEnv(name) // its errors carry errPrefix
	if err != nil {
		return nil, err
	}
	ctrl := t.Ziti.Controller
	env = append(env,
		EnvVar{"SERVICE_SECURITYOPTIONS_MODE", "zerotrust"},
		EnvVar{"SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER", ctrl},
	)
	for _, peer := range t.peersOf(name) {
		p, _ := t.serviceNamed(peer)
		prefix := "CLIENTS_" + edgexEnvKey(peer) + "_"
		env = append(env,
			EnvVar{prefix + "PROTOCOL", "http"},
			EnvVar{prefix + "HOST", p.Host},
			EnvVar{prefix + "PORT", fmt.Sprint(p.Port)},
			EnvVar{prefix + "SECURITYOPTIONS_MODE", "zerotrust"},
			EnvVar{prefix + "SECURITYOPTIONS_OPENZITICONTROLLER", ctrl},
		)
	}
	return env, nil
}

// peersOf returns, sorted, the services the dial rules let name dial.
func (t *Topology) peersOf(name string) []string {
	var peers []string
	for svc, dialers := range t.Dialers() {
		for _, d := range dialers {
			if d == name {
				peers = append(peers, svc)
				break
			}
		}
	}
	sort.Strings(peers)
	return peers
}

// edgexEnvKey is EdgeX's environment name for a configuration key: upper
// case, with "-" (and "/") as "_".
func edgexEnvKey(key string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", "/", "_").Replace(key))
}

// FormatEnv formats variables as NAME=value lines, the format of Docker's
// env_file and systemd's EnvironmentFile. Values are written as they are:
// they are URLs, host names, numbers and paths.
func FormatEnv(env []EnvVar) []byte {
	var b strings.Builder
	for _, e := range env {
		b.WriteString(e.Name + "=" + e.Value + "\n")
	}
	return []byte(b.String())
}
