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
	"net/http"
	"sync"
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
	client, err := vault.NewClient(vault.Config{Address: addr, CAFile: opts.CAFile})
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
	return &Source{creds: *creds, client: client, log: log, now: time.Now, observe: observe}, nil
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

// Ready reports whether the service holds a valid JWT or can get one now:
// nil when it can, else why not. A JWT is fetched only when something asks
// for one (an authentication to the controller, a call to a token-mode
// peer), so a long API session leaves the cached one expired although
// Vault would issue another: Ready then asks for a fresh one, as Token
// does, and fails only when Vault cannot issue it. It calls Vault at most
// once per JWT lifetime, however often it is asked.
func (s *Source) Ready(ctx context.Context) error {
	if _, err := s.Token(ctx); err != nil {
		return fmt.Errorf("no valid JWT: %w", err)
	}
	return nil
}

// Token returns the cached JWT, or fetches a new one when the cached one
// is close to expiry.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwt != "" && s.now().Before(s.jwtRenewAt) {
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
	if s.loggedIn && now.Before(s.tokenEnd.Add(-renewMargin(s.tokenTTL))) {
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
