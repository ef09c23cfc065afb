package zerotrust

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
)

// TokenSource supplies the service's own identity token, a JWT. Token
// returns a token that is valid for a while yet; implementations cache.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenSourceFunc adapts a function to a [TokenSource].
type TokenSourceFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// VaultTokenSource fetches the service's identity token from Vault's
// identity OIDC engine (identity/oidc/token/<role>) after logging in with
// the AppRole credentials provisioning wrote. It keeps each JWT until
// shortly before it expires and each Vault login token until shortly before
// its TTL ends, renewing it (periodic tokens) or logging in again; Vault
// is never called per request. It is safe for concurrent use.
type VaultTokenSource struct {
	creds  credentials.Service
	client *vaultapi.Client
	log    *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	jwt        string
	jwtRenewAt time.Time
	jwtExp     time.Time
	loggedIn   bool
	tokenEnd   time.Time // when the Vault login token expires
	tokenTTL   time.Duration
	fetches    int
}

// VaultTokenSourceOptions tune a [VaultTokenSource]. The zero value is usable.
type VaultTokenSourceOptions struct {
	// Address overrides the Vault address in the credentials file.
	Address string
	// CAFile is a PEM file with the CA of Vault's TLS certificate.
	CAFile string
	// Logger receives renewal events (never tokens). Default slog.Default().
	Logger *slog.Logger
	// HTTPClient is used for Vault requests; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// NewVaultTokenSource reads the credentials file and prepares a token
// source. It does not contact Vault: the first Token call does.
func NewVaultTokenSource(credentialsFile string, opts VaultTokenSourceOptions) (*VaultTokenSource, error) {
	creds, err := credentials.Read(credentialsFile)
	if err != nil {
		return nil, err
	}
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = creds.VaultAddress
	if opts.Address != "" {
		cfg.Address = opts.Address
	}
	if opts.HTTPClient != nil {
		cfg.HttpClient = opts.HTTPClient
	} else {
		cfg.Timeout = 10 * time.Second
	}
	cfg.MaxRetries = 1
	if opts.CAFile != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: opts.CAFile}); err != nil {
			return nil, fmt.Errorf("vault CA file %s: %w", opts.CAFile, err)
		}
	}
	client, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", cfg.Address, err)
	}
	client.ClearToken() // never pick up VAULT_TOKEN from the environment
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &VaultTokenSource{creds: *creds, client: client, log: log, now: time.Now}, nil
}

// Service is the service name the credentials belong to.
func (s *VaultTokenSource) Service() string { return s.creds.Service }

// Address is the Vault address the source talks to.
func (s *VaultTokenSource) Address() string { return s.client.Address() }

// Audience is the audience the service's JWTs carry.
func (s *VaultTokenSource) Audience() string { return s.creds.Audience }

// Introspect asks Vault whether a JWT is active
// (identity/oidc/introspect), with the service's own Vault login, which
// provisioning allows to introspect. It logs in again once if Vault refuses
// the login token.
func (s *VaultTokenSource) Introspect(ctx context.Context, token string) (bool, error) {
	for attempt := 0; ; attempt++ {
		// Take the login token under the lock, but make the Vault call
		// without it, so introspections never hold up Token.
		s.mu.Lock()
		err := s.ensureLogin(ctx)
		vaultToken := s.client.Token()
		s.mu.Unlock()
		if err != nil {
			return false, err
		}
		c, err := s.client.Clone()
		if err != nil {
			return false, err
		}
		c.SetToken(vaultToken)
		sec, err := c.Logical().WriteWithContext(ctx, "identity/oidc/introspect", map[string]any{"token": token})
		if err != nil {
			// Vault answers 400 with {"active": false, ...} for a token it rejects.
			var re *vaultapi.ResponseError
			if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized) && attempt == 0 {
				s.mu.Lock()
				if s.client.Token() == vaultToken {
					s.loggedIn = false
				}
				s.mu.Unlock()
				continue
			}
			if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
				return false, nil
			}
			return false, fmt.Errorf("vault introspection: %w", err)
		}
		if sec == nil {
			return false, nil
		}
		active, _ := sec.Data["active"].(bool)
		return active, nil
	}
}

// Fetches reports how many JWTs have been fetched from Vault so far.
func (s *VaultTokenSource) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// Token returns the cached JWT, or fetches a new one when the cached one is
// close to expiry.
func (s *VaultTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwt != "" && s.now().Before(s.jwtRenewAt) {
		return s.jwt, nil
	}
	jwt, err := s.fetch(ctx)
	if err != nil {
		var re *vaultapi.ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized) {
			// The Vault token was revoked or Vault restarted: log in afresh once.
			s.log.Info("vault refused the login token; logging in again", "service", s.creds.Service)
			s.loggedIn = false
			jwt, err = s.fetch(ctx)
		}
	}
	if err != nil {
		// Vault is unreachable while the current JWT is still valid: keep
		// using it rather than fail early, and try Vault again next time.
		if s.jwt != "" && s.now().Before(s.jwtExp.Add(-time.Second)) {
			s.log.Warn("renewing the service's JWT failed; using the current one until it expires", "service", s.creds.Service, "expires", s.jwtExp, "err", err)
			return s.jwt, nil
		}
		return "", err
	}
	return jwt, nil
}

func (s *VaultTokenSource) fetch(ctx context.Context) (string, error) {
	if err := s.ensureLogin(ctx); err != nil {
		return "", err
	}
	sec, err := s.client.Logical().ReadWithContext(ctx, "identity/oidc/token/"+s.creds.OIDCRole)
	if err != nil {
		return "", fmt.Errorf("fetching the identity token of %q from vault: %w", s.creds.Service, err)
	}
	if sec == nil || sec.Data == nil {
		return "", fmt.Errorf("vault returned no identity token for %q", s.creds.Service)
	}
	tok, _ := sec.Data["token"].(string)
	if tok == "" {
		return "", fmt.Errorf("vault returned no identity token for %q", s.creds.Service)
	}
	iat, exp, err := tokenTimes(tok)
	if err != nil {
		return "", fmt.Errorf("vault's identity token for %q: %w", s.creds.Service, err)
	}
	s.jwt = tok
	s.jwtExp = exp
	s.jwtRenewAt = exp.Add(-renewMargin(exp.Sub(iat)))
	s.fetches++
	return tok, nil
}

// ensureLogin keeps a valid Vault login token: renewing a periodic token
// before it ends, or logging in again with the AppRole credentials.
func (s *VaultTokenSource) ensureLogin(ctx context.Context) error {
	now := s.now()
	if s.loggedIn && now.Before(s.tokenEnd.Add(-renewMargin(s.tokenTTL))) {
		return nil
	}
	if s.loggedIn {
		sec, err := s.client.Auth().Token().RenewSelfWithContext(ctx, 0)
		if err == nil && sec != nil && sec.Auth != nil && sec.Auth.LeaseDuration > 0 {
			s.setLease(sec.Auth.LeaseDuration)
			return nil
		}
		s.log.Info("renewing the vault login token failed; logging in again", "service", s.creds.Service, "err", err)
	}
	s.client.ClearToken()
	s.loggedIn = false
	sec, err := s.client.Logical().WriteWithContext(ctx, "auth/"+s.creds.AuthMount+"/login", map[string]any{
		"role_id": s.creds.RoleID, "secret_id": s.creds.SecretID,
	})
	if err != nil {
		return fmt.Errorf("logging in to vault at %s as %q: %w", s.client.Address(), s.creds.Service, err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return fmt.Errorf("vault at %s returned no token for %q", s.client.Address(), s.creds.Service)
	}
	s.client.SetToken(sec.Auth.ClientToken)
	s.loggedIn = true
	s.setLease(sec.Auth.LeaseDuration)
	return nil
}

func (s *VaultTokenSource) setLease(seconds int) {
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
