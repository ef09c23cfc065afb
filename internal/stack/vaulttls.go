package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/internal/vaultserver"
)

// vaultDirName is the folder of the TLS Vault's certificates, config,
// init file (unseal key and root token, 0600) and file storage.
const vaultDirName = "vault"

// vaultPaths returns the files of the stack's TLS Vault in dir.
func vaultPaths(dir string) vaultserver.Paths {
	return vaultserver.Paths{Dir: filepath.Join(dir, vaultDirName)}
}

// prepareVaultServer writes the CA, the certificate (for 127.0.0.1 and
// localhost) and the configuration of a TLS Vault with file storage on
// port, and records its address and CA in st.
func prepareVaultServer(st *State, port int) error {
	p := vaultPaths(st.StateDir)
	// A new stack gets a new Vault: no storage or keys of an old one.
	if err := os.RemoveAll(p.Dir); err != nil {
		return fmt.Errorf("clear old vault files: %w", err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	st.VaultAddress = "https://" + listen
	st.VaultCAFile = p.CAFile()
	if err := vaultserver.WriteTLS(p, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}); err != nil {
		return err
	}
	return vaultserver.WriteConfig(p, listen, st.VaultAddress)
}

// startVaultServer starts the stack's TLS Vault as a detached process.
func startVaultServer(st *State, env []string) (*process, error) {
	return startDetached("vault", st.VaultBin, vaultserver.Args(vaultPaths(st.StateDir)), env, st.StateDir, st.VaultLogFile())
}

// vaultHTTPClient returns a client for the stack's Vault: trusting only
// its CA when it has TLS.
func vaultHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{}, nil
	}
	return vaultserver.HTTPClient(vaultserver.Paths{Dir: filepath.Dir(caFile)}, nil)
}

// initVaultServer initialises (first start) and unseals the stack's TLS
// Vault and writes its root token to st.VaultTokenFile.
func initVaultServer(ctx context.Context, st *State) (string, error) {
	c, err := vaultHTTPClient(st.VaultCAFile)
	if err != nil {
		return "", err
	}
	token, err := vaultserver.Init(ctx, c, st.VaultAddress, vaultPaths(st.StateDir))
	if err != nil {
		return "", err
	}
	return token, writePrivate(st.VaultTokenFile, []byte(token+"\n"))
}

// unsealVault unseals the stack's TLS Vault if it runs sealed (after a
// restart), with the key kept in the state folder. It reports whether it
// unsealed it.
func unsealVault(ctx context.Context, st *State) (bool, error) {
	if st.VaultCAFile == "" || !processMatches(st.VaultPID, st.VaultBin, vaultMarker) {
		return false, nil
	}
	c, err := vaultHTTPClient(st.VaultCAFile)
	if err != nil {
		return false, err
	}
	status, err := vaultserver.SealStatus(ctx, c, st.VaultAddress)
	if err != nil || !status.Initialized || !status.Sealed {
		return false, err
	}
	return true, vaultserver.Unseal(ctx, c, st.VaultAddress, vaultPaths(st.StateDir))
}

// RestartVault stops the stack's TLS Vault and starts it again on the same
// storage, unseals it with the key in the state folder and waits until it
// is active, as an operator's restart followed by an unseal would. The
// dev server (in memory) cannot be restarted: its data would be gone.
func RestartVault(ctx context.Context, st *State, progress io.Writer) (*State, error) {
	if progress == nil {
		progress = io.Discard
	}
	if st.VaultCAFile == "" {
		return nil, fmt.Errorf("stack: vault at %s is the in-memory dev server (%s=0 or -vault-tls=false): a restart would lose its data; the default stack runs Vault with TLS and file storage, which can restart", st.VaultAddress, EnvVaultTLS)
	}
	stopped, err := stopProcess(ctx, st.VaultPID, st.VaultBin, vaultMarker, stopGrace)
	if err != nil {
		return nil, fmt.Errorf("stack: stopping vault (pid %d): %w", st.VaultPID, err)
	}
	if !stopped {
		return nil, fmt.Errorf("stack: vault (pid %d) is not the process this stack started", st.VaultPID)
	}
	fmt.Fprintf(progress, "[stack] stopped vault (pid %d); starting it again\n", st.VaultPID)
	_ = os.Rename(st.VaultLogFile(), st.VaultLogFile()+".1")
	vault, err := startVaultServer(st, childEnv(os.Environ()))
	if err != nil {
		return nil, err
	}
	next := *st
	next.VaultPID = vault.pid
	t0 := time.Now()
	if err := waitFor(ctx, vault, "vault to be unsealed and active after the restart", nil, func(ctx context.Context) error {
		if _, err := unsealVault(ctx, &next); err != nil {
			return err
		}
		return vaultHealthy(ctx, next.VaultAddress, next.VaultCAFile)
	}); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*stopGrace)
		defer cancel()
		_, _ = stopProcess(stopCtx, vault.pid, st.VaultBin, vaultMarker, stopGrace)
		return nil, err
	}
	if err := saveState(&next); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "[stack] vault is back and unsealed (pid %d, %s)\n", next.VaultPID, time.Since(t0).Round(100*time.Millisecond))
	return &next, nil
}

// vaultScheme is the scheme of the stack's Vault address for cfg.
func vaultScheme(cfg Config) string {
	if cfg.VaultTLS {
		return "https"
	}
	return "http"
}

// trustVault adds SSL_CERT_FILE=caFile to the controller's environment
// when Vault has TLS: the controller fetches the external JWT signer's
// keys (Vault's JWKS) with Go's default client and system roots.
func trustVault(env []string, caFile string) []string {
	if caFile == "" {
		return env
	}
	return append(env, "SSL_CERT_FILE="+caFile)
}
