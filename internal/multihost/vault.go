//go:build linux

package multihost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/vaultserver"
)

// startVaultProcess starts the hub's Vault server on its configuration.
func (hub *Hub) startVaultProcess() error {
	cmd := hub.Host.Command(context.Background(), hub.vaultBin, vaultserver.Args(hub.VaultFiles)...)
	p, err := hub.Host.Start("vault", cmd)
	if err != nil {
		return err
	}
	hub.Vault = p
	return nil
}

// StopVault stops the hub's Vault (SIGTERM, as an operator's restart or a
// crash would, SIGKILL after a few seconds). Its storage is kept.
func (hub *Hub) StopVault() error { return hub.Vault.Stop() }

// StartVault starts the hub's Vault again on the same storage and waits
// until it is unsealed (by the hub's keeper) and active.
func (hub *Hub) StartVault(ctx context.Context) error {
	if hub.Vault.Running() {
		return fmt.Errorf("multihost: vault on %s runs already", hub.Host.Name)
	}
	if err := hub.startVaultProcess(); err != nil {
		return err
	}
	return hub.waitVaultActive(ctx)
}

// RestartVault stops the hub's Vault and starts it again; see StopVault
// and StartVault.
func (hub *Hub) RestartVault(ctx context.Context) error {
	if err := hub.StopVault(); err != nil {
		return err
	}
	return hub.StartVault(ctx)
}

// waitVaultActive waits until Vault's health endpoint answers 200:
// initialised, unsealed and active.
func (hub *Hub) waitVaultActive(ctx context.Context) error {
	return waitFor(ctx, "vault to be unsealed and active on "+hub.VaultAddr, hub.Vault, func(ctx context.Context) error {
		return getOK(ctx, hub.vaultClient, hub.VaultAddr+"/v1/sys/health")
	})
}

// VaultClient returns an HTTP client on host from that trusts only
// Vault's CA, for requests to hub.VaultAddr.
func (hub *Hub) VaultClient(from *testhosts.Host) (*http.Client, error) {
	pem, err := os.ReadFile(hub.VaultCAFile)
	if err != nil {
		return nil, fmt.Errorf("multihost: vault CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("multihost: %s holds no certificate", hub.VaultCAFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     from.Dial,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}, nil
}
