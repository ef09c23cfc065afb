package idtoken

import (
	"context"
	"net"
	"time"
)

// VaultZitiService is the Ziti service that publishes Vault on the
// overlay, from the credentials file; "" when Vault is not on the overlay.
func (s *Source) VaultZitiService() string { return s.creds.VaultZitiService }

// UseOverlay makes the source reach Vault through dial (a connection to
// Vault's Ziti service) from now on, for logins, renewals and JWTs alike;
// connections already open to Vault are closed when idle, and a renewal
// that just failed may be retried at once. TLS, when Vault
// uses it, runs over the overlay connection as over TCP.
func (s *Source) UseOverlay(dial func(ctx context.Context) (net.Conn, error)) {
	s.vaultVia.Store(&dial)
	s.client.CloneConfig().HttpClient.CloseIdleConnections()
	// A new path to Vault: a renewal that failed on the old one may be
	// tried again at once.
	s.mu.Lock()
	s.failedAt = time.Time{}
	s.mu.Unlock()
}

// underlayDialer dials Vault over TCP, as http.DefaultTransport does.
var underlayDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// DialVault connects to Vault at addr: over the overlay once [Source.UseOverlay]
// was called, else (and when the overlay cannot reach Vault, with a
// warning) over TCP. Use it as the DialContext of other clients of Vault.
func (s *Source) DialVault(ctx context.Context, network, addr string) (net.Conn, error) {
	if via := s.vaultVia.Load(); via != nil {
		c, err := (*via)(ctx)
		if err == nil {
			if s.viaWarned.CompareAndSwap(true, false) {
				s.log.Info("reaching vault over the overlay again", "service", s.creds.Service)
			}
			return c, nil
		}
		if s.viaWarned.CompareAndSwap(false, true) {
			s.log.Warn("cannot reach vault over the overlay; trying its address on the network", "service", s.creds.Service, "err", err)
		}
	}
	return underlayDialer.DialContext(ctx, network, addr)
}
