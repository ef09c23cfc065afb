// Package stack runs a local development stack: Vault (a TLS server with
// file storage, or the in-memory dev server) and an
// OpenZiti quickstart network (controller and edge router in one process),
// both on loopback, as detached background processes that outlive the
// command that started them.
//
// Everything the stack needs is kept in one state directory: stack.json
// (addresses and pids), the secrets in their own 0600 files, stack.env for
// shells, the controller's CA bundle, the Ziti home and the process logs.
package stack

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ztedge/ztedge/internal/yesno"
)

// Default ports, chosen away from the tools' own defaults (8200, 1280, 3022)
// and from each other. Vault also listens on VaultPort+1 (its cluster port).
const (
	DefaultVaultPort      = 18200
	DefaultControllerPort = 18280
	DefaultRouterPort     = 18281
)

// Environment variables read by ConfigFromEnv.
const (
	EnvStateDir   = "ZTEDGE_STATE_DIR"
	EnvVaultPort  = "ZTEDGE_VAULT_PORT"
	EnvCtrlPort   = "ZTEDGE_CTRL_PORT"
	EnvRouterPort = "ZTEDGE_ROUTER_PORT"
	// EnvVaultTLS set to 0 (or false, no) starts the in-memory Vault dev
	// server (plain HTTP on loopback) instead of Vault with TLS and file
	// storage, which is ConfigFromEnv's default.
	EnvVaultTLS = "ZTEDGE_VAULT_TLS"
)

// Config says where the stack keeps its state, which loopback ports it uses
// and which binaries it runs.
type Config struct {
	// StateDir holds stack.json, secrets, logs and the Ziti home.
	StateDir string
	// VaultPort is Vault's API port; VaultPort+1 must be free too.
	VaultPort int
	// ControllerPort is the Ziti controller's API and control-plane port.
	ControllerPort int
	// RouterPort is the Ziti edge router's listener port.
	RouterPort int
	// VaultTLS starts Vault as a real server instead of the in-memory dev
	// server: TLS with a CA and certificate generated into the state
	// folder (State.VaultCAFile), file storage, one unseal key kept with
	// the root token in a 0600 file there; Up unseals it again when it
	// finds it sealed, and RestartVault restarts and unseals it.
	VaultTLS bool
	// ZitiBin and VaultBin are the binaries to run; empty means the pinned
	// tools from the toolchain cache (built on demand).
	ZitiBin, VaultBin string
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer

	// envErr is a bad environment value found by ConfigFromEnv, reported
	// by Up.
	envErr error
}

// ConfigFromEnv returns the default configuration with the ZTEDGE_STATE_DIR,
// ZTEDGE_VAULT_PORT, ZTEDGE_CTRL_PORT, ZTEDGE_ROUTER_PORT and
// ZTEDGE_VAULT_TLS overrides applied. Vault runs with TLS unless
// ZTEDGE_VAULT_TLS says no. A port variable that is not a number is kept as
// -1, and a ZTEDGE_VAULT_TLS that is not yes or no is remembered, so that
// Up reports them. The binaries are left empty (toolchain defaults).
func ConfigFromEnv() Config {
	tls, err := yesno.Env(EnvVaultTLS, true)
	return Config{
		StateDir:       defaultStateDir(),
		VaultPort:      envPort(EnvVaultPort, DefaultVaultPort),
		ControllerPort: envPort(EnvCtrlPort, DefaultControllerPort),
		RouterPort:     envPort(EnvRouterPort, DefaultRouterPort),
		VaultTLS:       tls,
		envErr:         err,
	}
}

func defaultStateDir() string {
	if d := os.Getenv(EnvStateDir); d != "" {
		return d
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "" // reported by validate
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "ztedge", "stack")
}

func envPort(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// SetVaultTLS sets VaultTLS as a command-line flag does: over
// ZTEDGE_VAULT_TLS, and over any error reading it.
func (c *Config) SetVaultTLS(on bool) { c.VaultTLS, c.envErr = on, nil }

// withDefaults fills zero fields with defaults and checks the ports.
func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		c.StateDir = defaultStateDir()
		if c.StateDir == "" {
			return c, fmt.Errorf("no state directory: set %s or HOME", EnvStateDir)
		}
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return c, fmt.Errorf("state directory %q: %w", c.StateDir, err)
	}
	c.StateDir = abs
	if c.VaultPort == 0 {
		c.VaultPort = DefaultVaultPort
	}
	if c.ControllerPort == 0 {
		c.ControllerPort = DefaultControllerPort
	}
	if c.RouterPort == 0 {
		c.RouterPort = DefaultRouterPort
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c, nil
}

// namedPort is a port the stack needs, with what it is for.
type namedPort struct {
	Port int
	Name string
}

// ports lists every port the stack binds.
func (c Config) ports() []namedPort {
	return []namedPort{
		{c.VaultPort, "vault"},
		{c.VaultPort + 1, "vault cluster"},
		{c.ControllerPort, "ziti controller"},
		{c.RouterPort, "ziti router"},
	}
}

// validatePorts checks that the ports are in range and distinct.
func (c Config) validatePorts() error {
	ps := c.ports()
	envOf := map[string]string{"vault": EnvVaultPort, "vault cluster": EnvVaultPort,
		"ziti controller": EnvCtrlPort, "ziti router": EnvRouterPort}
	for _, p := range ps {
		if p.Port < 1 || p.Port > 65535 {
			return fmt.Errorf("invalid %s port %d (check %s)", p.Name, p.Port, envOf[p.Name])
		}
	}
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			if ps[i].Port == ps[j].Port {
				return fmt.Errorf("port %d is configured for both %s and %s (Vault also uses its port+1)",
					ps[i].Port, ps[i].Name, ps[j].Name)
			}
		}
	}
	return nil
}
