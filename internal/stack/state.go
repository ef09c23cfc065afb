package stack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Names of the files in the state directory.
const (
	stateFileName    = "stack.json"
	envFileName      = "stack.env"
	vaultTokenName   = "vault-token"
	zitiPasswordName = "ziti-password"
	zitiCAName       = "ziti-ca.pem"
	vaultLogName     = "vault.log"
	zitiLogName      = "ziti.log"
	zitiHomeName     = "ziti"
	zitiCLIDirName   = "ziti-cli"
	lockName         = ".lock"
)

// State describes a running stack. It is saved as <state>/stack.json; the
// secrets are not in it, only the paths of the files that hold them.
type State struct {
	// VaultAddress is Vault's API address, e.g. http://127.0.0.1:18200.
	VaultAddress string
	// ControllerURL is the Ziti controller's base URL, e.g. https://127.0.0.1:18280.
	ControllerURL string
	// RouterAddress is the edge router's host:port.
	RouterAddress string
	// VaultTokenFile holds the Vault root token.
	VaultTokenFile string
	// VaultCAFile is the CA of Vault's TLS certificate (PEM) when Vault
	// runs with TLS and file storage; empty for the dev server (http).
	VaultCAFile string `json:",omitempty"`
	// ZitiUsername is the Ziti admin user name.
	ZitiUsername string
	// ZitiPasswordFile holds the Ziti admin password.
	ZitiPasswordFile string
	// ZitiCAFile is a PEM bundle of the controller's root CA.
	ZitiCAFile string
	// ZitiBin and VaultBin are the binaries that were started.
	ZitiBin, VaultBin string
	// StateDir is the state directory.
	StateDir string
	// VaultPID and ZitiPID are the process ids (each also its process group id).
	VaultPID, ZitiPID int
}

// VaultToken reads the Vault root token from VaultTokenFile.
func (s *State) VaultToken() (string, error) {
	return readSecret(s.VaultTokenFile, "Vault root token")
}

// ZitiPassword reads the Ziti admin password from ZitiPasswordFile.
func (s *State) ZitiPassword() (string, error) {
	return readSecret(s.ZitiPasswordFile, "Ziti admin password")
}

// EnvFile returns the path of stack.env, a file of shell export lines.
func (s *State) EnvFile() string { return filepath.Join(s.StateDir, envFileName) }

// VaultLogFile returns the path of the Vault server's log.
func (s *State) VaultLogFile() string { return filepath.Join(s.StateDir, vaultLogName) }

// ZitiLogFile returns the path of the Ziti quickstart's log.
func (s *State) ZitiLogFile() string { return filepath.Join(s.StateDir, zitiLogName) }

// TopologyEnv returns the environment variables a topology file such as
// examples/topology.yaml reads to reach this stack, with output as the
// folder provisioning writes credentials and identity files to.
func (s *State) TopologyEnv(output string) map[string]string {
	return map[string]string{
		"ZTEDGE_VAULT_ADDR":         s.VaultAddress,
		"ZTEDGE_VAULT_TOKEN_FILE":   s.VaultTokenFile,
		"ZTEDGE_VAULT_CA_FILE":      s.VaultCAFile,
		"ZTEDGE_ZITI_CONTROLLER":    s.ControllerURL,
		"ZTEDGE_ZITI_CA_FILE":       s.ZitiCAFile,
		"ZTEDGE_ZITI_USER":          s.ZitiUsername,
		"ZTEDGE_ZITI_PASSWORD_FILE": s.ZitiPasswordFile,
		"ZTEDGE_OUTPUT":             output,
	}
}

// ProvisionedDir is the default output folder for provisioning against this
// stack: <state>/provisioned.
func (s *State) ProvisionedDir() string { return filepath.Join(s.StateDir, "provisioned") }

// ManagementURL returns the Ziti edge management API URL.
func (s *State) ManagementURL() string { return s.ControllerURL + "/edge/management/v1" }

// ClientURL returns the Ziti edge client API URL.
func (s *State) ClientURL() string { return s.ControllerURL + "/edge/client/v1" }

func readSecret(path, what string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("no file recorded for the %s", what)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	return v, nil
}

// ensureStateDir creates dir with mode 0700, tightening it if it exists.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict state directory: %w", err)
	}
	return nil
}

// writePrivate writes data to path with mode 0600, atomically.
func writePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	// CreateTemp already uses 0600; be explicit about it anyway.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// saveState writes <state>/stack.json (0600).
func saveState(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stack state: %w", err)
	}
	return writePrivate(filepath.Join(s.StateDir, stateFileName), append(data, '\n'))
}

// errNoState means there is no stack.json: the stack is not up.
var errNoState = errors.New("no stack state")

// loadState reads <dir>/stack.json; errNoState if it does not exist.
func loadState(dir string) (*State, error) {
	path := filepath.Join(dir, stateFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, fmt.Errorf("read stack state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("stack state %s is corrupt (%v): remove it and stop any leftover vault/ziti processes by hand", path, err)
	}
	return &s, nil
}

// envFileContent renders stack.env: export lines for shells. It contains the
// secrets, so it is written 0600 like the secret files.
func envFileContent(s *State, token, password string) string {
	var b strings.Builder
	b.WriteString("# Written by \"ztedge stack up\"; use with: source " + shellQuote(s.EnvFile()) + "\n")
	line := func(k, v string) { fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v)) }
	line("ZTEDGE_STATE_DIR", s.StateDir)
	line("VAULT_ADDR", s.VaultAddress)
	line("VAULT_TOKEN", token)
	if s.VaultCAFile != "" {
		line("VAULT_CACERT", s.VaultCAFile)
	}
	line("ZITI_CTRL_URL", s.ControllerURL)
	line("ZITI_CTRL_MANAGEMENT_URL", s.ManagementURL())
	line("ZITI_CA_FILE", s.ZitiCAFile)
	line("ZITI_USER", s.ZitiUsername)
	line("ZITI_PWD", password)
	line("ZITI_ROUTER_ADDRESS", s.RouterAddress)
	line("ZITI_BIN", s.ZitiBin)
	line("VAULT_BIN", s.VaultBin)
	b.WriteString("# For topology files such as examples/topology.yaml:\n")
	env := s.TopologyEnv(s.ProvisionedDir())
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line(k, env[k])
	}
	return b.String()
}

// shellQuote quotes v for a POSIX shell.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// randomSecret returns prefix followed by n random bytes in hex.
func randomSecret(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a random secret: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}
