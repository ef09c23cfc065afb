// Package idtoken gives a service its own identity token: it logs in to
// Vault with the AppRole credentials provisioning wrote, fetches JWTs from
// Vault's identity OIDC engine (identity/oidc/token/<role>), and keeps both
// the Vault token and the JWT fresh, calling Vault once per lifetime rather
// than once per use.
package idtoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
)

// Source fetches and caches a service's identity token. It keeps each JWT
// until a fifth of its lifetime is left and each Vault login token until a
// fifth of its TTL is left, renewing it (periodic tokens) or logging in
// again. While Vault cannot be reached it keeps handing out the current JWT
// until shortly before it expires. It is safe for concurrent use.
type Source struct {
	creds   credentials.Service
	client  *vaultapi.Client
	log     *slog.Logger
	now     func() time.Time
	observe func(operation string, err error)

	vaultVia  atomic.Pointer[func(ctx context.Context) (net.Conn, error)] // the overlay's dial of Vault, once joined
	viaWarned atomic.Bool

	mu         sync.Mutex
	jwt        string
	jwtRenewAt time.Time
	jwtExp     time.Time
	loggedIn   bool
	entityID   string
	tokenEnd   time.Time // when the Vault login token expires
	tokenTTL   time.Duration
	fetches    int
	lastErr    error
}

// Options tune a [Source]. The zero value is usable.
type Options struct {
	// Address overrides the Vault address in the credentials file.
	Address string
	// CAFile is a PEM file with the CA of Vault's TLS certificate.
	CAFile string
	// Logger receives renewal events (never tokens). Default slog.Default().
	Logger *slog.Logger
	// Observe, if not nil, is told of each Vault operation ("login",
	// "renew", "jwt") and its error, for metrics.
	Observe func(operation string, err error)
}

// New reads the credentials file and prepares a source. It does not
// contact Vault: the first Token call does.
func New(credentialsFile string, opts Options) (*Source, error) {
	creds, err := credentials.Read(credentialsFile)
	if err != nil {
		return nil, err
	}
	addr := creds.VaultAddress
	if opts.Address != "" {
		addr = opts.Address
	}
	s := &Source{creds: *creds}
	client, err := vault.NewClient(vault.Config{Address: addr, CAFile: opts.CAFile, Dial: s.DialVault})
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	observe := opts.Observe
	if observe == nil {
		observe = func(string, error) {}
	}
	s.client, s.log, s.now, s.observe = client, log, time.Now, observe
	return s, nil
}

// VaultZitiService is the Ziti service that publishes Vault on the
// overlay, from the credentials file; "" when Vault is not on the overlay.
func (s *Source) VaultZitiService() string { return s.creds.VaultZitiService }

// UseOverlay makes the source reach Vault through dial (a connection to
// Vault's Ziti service) from now on, for logins, renewals and JWTs alike;
// connections already open to Vault are closed when idle. TLS, when Vault
// uses it, runs over the overlay connection as over TCP.
func (s *Source) UseOverlay(dial func(ctx context.Context) (net.Conn, error)) {
	s.vaultVia.Store(&dial)
	s.client.CloneConfig().HttpClient.CloseIdleConnections()
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

// Service is the service name the credentials belong to.
func (s *Source) Service() string { return s.creds.Service }

// Address is the Vault address the source talks to.
func (s *Source) Address() string { return s.client.Address() }

// Audience is the audience the service's JWTs carry.
func (s *Source) Audience() string { return s.creds.Audience }

// Fetches reports how many JWTs have been fetched from Vault so far.
func (s *Source) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// State is what a source knows of its token, for health and metrics.
type State struct {
	// Expires is when the current JWT expires; zero before the first fetch.
	Expires time.Time
	// LastError is the error of the last failed renewal, nil after a
	// successful one.
	LastError error
	// EntityID is the Vault entity the service logged in as.
	EntityID string
}

// State returns the source's current state.
func (s *Source) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{Expires: s.jwtExp, LastError: s.lastErr, EntityID: s.entityID}
}

// RenewAt is when the source next has work: the current JWT or the Vault
// login token due for renewal (a fifth of its lifetime before it ends);
// zero before the first fetch. A Token call at or after it does that work.
func (s *Source) RenewAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.jwtRenewAt
	if login := s.loginRenewAt(); s.loggedIn && login.Before(at) {
		at = login
	}
	return at
}

// loginRenewAt is when the Vault login token is due for renewal.
func (s *Source) loginRenewAt() time.Time { return s.tokenEnd.Add(-renewMargin(s.tokenTTL)) }

// Token returns the cached JWT, or fetches a new one when the cached one
// is close to expiry.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwt != "" && s.now().Before(s.jwtRenewAt) {
		if s.loggedIn && !s.now().Before(s.loginRenewAt()) {
			// Keep the Vault login alive between JWTs; the JWT in hand
			// stays good whatever happens here.
			if err := s.ensureLogin(ctx); err != nil {
				s.log.Warn("renewing the vault login failed; the current JWT stays in use", "service", s.creds.Service, "err", err)
			}
		}
		return s.jwt, nil
	}
	jwt, err := s.fetch(ctx)
	if err != nil && refused(err) {
		// The Vault token was revoked or Vault restarted: log in afresh once.
		s.log.Info("vault refused the login token; logging in again", "service", s.creds.Service)
		s.loggedIn = false
		jwt, err = s.fetch(ctx)
	}
	s.lastErr = err
	if err == nil {
		return jwt, nil
	}
	if s.jwt != "" && s.now().Before(s.jwtExp.Add(-time.Second)) {
		s.log.Warn("renewing the service's JWT failed; using the current one until it expires",
			"service", s.creds.Service, "expires", s.jwtExp, "err", err)
		return s.jwt, nil
	}
	s.log.Error("the service has no valid JWT: Vault cannot issue one", "service", s.creds.Service, "err", err)
	return "", err
}

// refused reports whether Vault refused the request's token.
func refused(err error) bool {
	code := vault.StatusOf(err)
	return code == http.StatusForbidden || code == http.StatusUnauthorized
}

func (s *Source) fetch(ctx context.Context) (string, error) {
	if err := s.ensureLogin(ctx); err != nil {
		return "", err
	}
	sec, err := s.client.Logical().ReadWithContext(ctx, "identity/oidc/token/"+s.creds.OIDCRole)
	s.observe("jwt", err)
	if err != nil {
		return "", fmt.Errorf("fetching the identity token of %q from vault: %w", s.creds.Service, vault.Sanitize(err))
	}
	tok, _ := dataOf(sec)["token"].(string)
	if tok == "" {
		return "", fmt.Errorf("vault returned no identity token for %q", s.creds.Service)
	}
	iat, exp, err := tokenTimes(tok)
	if err != nil {
		return "", fmt.Errorf("vault's identity token for %q: %w", s.creds.Service, err)
	}
	renewed := s.jwt != ""
	s.jwt = tok
	s.jwtExp = exp
	s.jwtRenewAt = exp.Add(-renewMargin(exp.Sub(iat)))
	s.fetches++
	if renewed {
		s.log.Info("renewed the service's JWT", "service", s.creds.Service, "expires", exp.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

func dataOf(sec *vaultapi.Secret) map[string]any {
	if sec == nil {
		return nil
	}
	return sec.Data
}

// ensureLogin keeps a valid Vault login token: renewing a periodic token
// before it ends, or logging in again with the AppRole credentials.
func (s *Source) ensureLogin(ctx context.Context) error {
	now := s.now()
	if s.loggedIn && now.Before(s.loginRenewAt()) {
		return nil
	}
	if s.loggedIn {
		sec, err := s.client.Auth().Token().RenewSelfWithContext(ctx, 0)
		s.observe("renew", err)
		if err == nil && sec != nil && sec.Auth != nil && sec.Auth.LeaseDuration > 0 {
			s.setLease(sec.Auth.LeaseDuration)
			return nil
		}
		s.log.Info("renewing the vault login token failed; logging in again", "service", s.creds.Service, "err", vault.Sanitize(err))
	}
	s.client.ClearToken()
	s.loggedIn = false
	login, err := vault.AppRoleLogin(ctx, s.client, s.creds.AuthMount, s.creds.RoleID, s.creds.SecretID)
	s.observe("login", err)
	if err != nil {
		return fmt.Errorf("logging in to vault as %q: %w", s.creds.Service, err)
	}
	s.client.SetToken(login.Token)
	s.loggedIn = true
	s.entityID = login.EntityID
	s.setLease(int(login.TTL / time.Second))
	return nil
}

func (s *Source) setLease(seconds int) {
	s.tokenTTL = time.Duration(seconds) * time.Second
	if seconds == 0 { // a token that never expires (root-like); check it hourly
		s.tokenTTL = time.Hour
	}
	s.tokenEnd = s.now().Add(s.tokenTTL)
}

// renewMargin is how long before the end of a lifetime a credential is
// replaced: a fifth of it, between 1 s and 5 minutes.
func renewMargin(lifetime time.Duration) time.Duration {
	m := lifetime / 5
	switch {
	case m < time.Second:
		return time.Second
	case m > 5*time.Minute:
		return 5 * time.Minute
	}
	return m
}

// tokenTimes reads iat and exp from a JWT without checking its signature:
// the token comes straight from Vault over the connection the client chose
// to trust, and is only inspected to know when to replace it.
func tokenTimes(tok string) (iat, exp time.Time, err error) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("not a JWT: %w", err)
	}
	if claims.ExpiresAt == nil {
		return time.Time{}, time.Time{}, errors.New("no exp claim")
	}
	exp = claims.ExpiresAt.Time
	iat = exp.Add(-time.Minute)
	if claims.IssuedAt != nil {
		iat = claims.IssuedAt.Time
	}
	return iat, exp, nil
}
