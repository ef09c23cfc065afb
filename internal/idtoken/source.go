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
// again. Renewal never holds up a caller for long: while Vault is slow or
// unreachable the current JWT is handed out until shortly before it
// expires, one renewal runs at a time, and a failed one is retried after
// [RetryInterval]. Run [Source.Keep] to renew ahead of use. It is safe for
// concurrent use.
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
	entityID   string
	fetches    int
	lastErr    error
	failedAt   time.Time     // when the last failed renewal ended
	outage     time.Time     // when renewals started failing; zero while they work
	expired    bool          // the expiry during this outage was logged
	refreshing chan struct{} // closed when the running renewal ends; nil when none runs
	loginDue   time.Time     // when the Vault login token is due for renewal; zero before a login

	// Used only by the one running renewal.
	loggedIn bool
	tokenEnd time.Time // when the Vault login token expires
	tokenTTL time.Duration
}

// RetryInterval is how long a source waits after a failed renewal before
// asking Vault again; callers get the current JWT, or the last error,
// meanwhile.
const RetryInterval = 2 * time.Second

// renewWait is how long the caller that starts a renewal waits for it
// while its current JWT is still valid; the renewal goes on without it.
const renewWait = 2 * time.Second

// requestTimeout bounds each request to Vault, so that a renewal stuck on
// an unreachable Vault ends and is retried soon after Vault is back.
const requestTimeout = 5 * time.Second

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
	// No retries inside the client: the source retries by itself, and a
	// retry would double the time a renewal hangs on an unreachable Vault.
	client, err := vault.NewClient(vault.Config{Address: addr, CAFile: opts.CAFile, Timeout: requestTimeout, MaxRetries: -1, Dial: s.DialVault})
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
// nil when it can, else why not. Without [Source.Keep] running, a JWT is
// fetched only when something asks for one, so the cached one may have
// expired unused although Vault would issue another: Ready then asks for a
// fresh one, as Token does, and fails only when Vault cannot issue it. It
// calls Vault at most once per JWT lifetime (or per [RetryInterval] while
// Vault fails), however often it is asked.
func (s *Source) Ready(ctx context.Context) error {
	if _, err := s.Token(ctx); err != nil {
		return fmt.Errorf("no valid JWT: %w", err)
	}
	return nil
}

// Token returns the cached JWT, or a new one when the cached one is close
// to expiry. While the cached one is still valid, Token waits at most
// renewWait for a renewal (callers arriving while one runs do not wait).
// Without a valid JWT it waits for the renewal, or ctx, and fails with
// the renewal's error; within [RetryInterval] of a failed renewal it fails
// at once.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	now := s.now()
	if s.jwt != "" && now.Before(s.renewAtLocked()) {
		tok := s.jwt
		s.mu.Unlock()
		return tok, nil
	}
	valid := s.validLocked(now)
	started := false
	if s.refreshing == nil && (s.lastErr == nil || !now.Before(s.failedAt.Add(RetryInterval))) {
		s.refreshing = make(chan struct{})
		started = true
		go s.refresh(s.refreshing)
	}
	wait, cur, lastErr := s.refreshing, s.jwt, s.lastErr
	s.mu.Unlock()

	switch {
	case valid && !started:
		return cur, nil
	case wait == nil: // no valid JWT, and the last renewal failed just now
		return "", lastErr
	case valid:
		select {
		case <-wait:
		case <-time.After(renewWait):
		case <-ctx.Done():
		}
	default:
		select {
		case <-wait:
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the identity token of %q: %w", s.creds.Service, context.Cause(ctx))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.validLocked(s.now()) {
		return s.jwt, nil
	}
	if s.lastErr != nil {
		return "", s.lastErr
	}
	return "", fmt.Errorf("the identity token of %q has expired", s.creds.Service)
}

// validLocked reports whether the cached JWT can still be handed out.
func (s *Source) validLocked(now time.Time) bool {
	return s.jwt != "" && now.Before(s.jwtExp.Add(-time.Second))
}

// Keep renews the JWT ahead of its use until ctx ends: at its renewal time,
// and every [RetryInterval] while Vault cannot issue one, so that the
// service's state (readiness, metrics, the log) follows Vault without
// waiting for a request.
func (s *Source) Keep(ctx context.Context) {
	for {
		_, _ = s.Token(ctx)
		s.mu.Lock()
		wait := RetryInterval
		if s.lastErr == nil && s.jwt != "" {
			wait = max(s.renewAtLocked().Sub(s.now()), 100*time.Millisecond)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// RenewAt is when the source next has work: the current JWT or the Vault
// login token due for renewal (a fifth of its lifetime before it ends);
// zero before the first fetch. A Token call at or after it starts that
// work.
func (s *Source) RenewAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewAtLocked()
}

func (s *Source) renewAtLocked() time.Time {
	if !s.loginDue.IsZero() && s.loginDue.Before(s.jwtRenewAt) {
		return s.loginDue
	}
	return s.jwtRenewAt
}

// refresh runs one renewal, records its outcome and closes done. It
// fetches a new JWT when the current one is due (logging in again once if
// Vault refused the login token); when only the Vault login is due, it
// renews just that, so the login stays alive between long-lived JWTs.
func (s *Source) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*requestTimeout)
	defer cancel()
	s.mu.Lock()
	loginOnly := s.jwt != "" && s.now().Before(s.jwtRenewAt)
	s.mu.Unlock()
	var jwt string
	var iat, exp time.Time
	var err error
	if loginOnly {
		err = s.ensureLogin(ctx)
	} else {
		jwt, iat, exp, err = s.fetch(ctx)
		if err != nil && refused(err) {
			// The Vault token was revoked or Vault lost it: log in afresh once.
			s.log.Info("vault refused the login token; logging in again", "service", s.creds.Service)
			s.loggedIn = false
			jwt, iat, exp, err = s.fetch(ctx)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(done)
	s.refreshing = nil
	s.loginDue = time.Time{}
	if s.loggedIn {
		s.loginDue = s.tokenEnd.Add(-renewMargin(s.tokenTTL))
	}
	now := s.now()
	if err != nil {
		s.lastErr, s.failedAt = err, now
		s.logFailureLocked(now, err)
		return
	}
	if loginOnly {
		s.lastErr = nil
		if !s.outage.IsZero() {
			s.log.Info("vault answers again; renewed the vault login", "service", s.creds.Service,
				"failing_for", now.Sub(s.outage).Round(time.Second))
		}
		s.outage, s.expired = time.Time{}, false
		return
	}
	renewed := s.jwt != ""
	s.jwt, s.jwtExp, s.jwtRenewAt = jwt, exp, exp.Add(-renewMargin(exp.Sub(iat)))
	s.fetches++
	s.lastErr = nil
	switch {
	case !s.outage.IsZero():
		s.log.Info("vault issues identity tokens again; renewed the service's JWT", "service", s.creds.Service,
			"failing_for", now.Sub(s.outage).Round(time.Second), "expires", exp.UTC().Format(time.RFC3339))
	case renewed:
		s.log.Info("renewed the service's JWT", "service", s.creds.Service, "expires", exp.UTC().Format(time.RFC3339))
	}
	s.outage, s.expired = time.Time{}, false
}

// logFailureLocked logs a failed renewal once per stage of an outage: when
// renewals start failing, and when the current JWT has expired.
func (s *Source) logFailureLocked(now time.Time, err error) {
	first := s.outage.IsZero()
	if first {
		s.outage = now
	}
	switch {
	case s.validLocked(now):
		if first {
			s.log.Warn("renewing the service's JWT failed; using the current one until it expires, and retrying",
				"service", s.creds.Service, "expires", s.jwtExp.UTC().Format(time.RFC3339), "err", err)
		}
	case s.jwt != "":
		if !s.expired {
			s.expired = true
			s.log.Error("the service's JWT has expired and vault cannot issue a new one: the service reports not ready, and a new Ziti authentication or a call that carries the JWT fails until vault is back",
				"service", s.creds.Service, "expired", s.jwtExp.UTC().Format(time.RFC3339), "err", err)
		}
	default:
		if first {
			s.log.Error("the service has no valid JWT: Vault cannot issue one", "service", s.creds.Service, "err", err)
		}
	}
	s.log.Debug("renewing the service's JWT failed", "service", s.creds.Service, "err", err)
}

// refused reports whether Vault refused the request's token.
func refused(err error) bool {
	code := vault.StatusOf(err)
	return code == http.StatusForbidden || code == http.StatusUnauthorized
}

// fetch logs in if needed and reads a new JWT with its iat and exp.
func (s *Source) fetch(ctx context.Context) (tok string, iat, exp time.Time, err error) {
	if err := s.ensureLogin(ctx); err != nil {
		return "", iat, exp, err
	}
	sec, err := s.client.Logical().ReadWithContext(ctx, "identity/oidc/token/"+s.creds.OIDCRole)
	s.observe("jwt", err)
	if err != nil {
		return "", iat, exp, fmt.Errorf("fetching the identity token of %q from vault: %w", s.creds.Service, s.describe(err))
	}
	tok, _ = dataOf(sec)["token"].(string)
	if tok == "" {
		return "", iat, exp, fmt.Errorf("vault returned no identity token for %q", s.creds.Service)
	}
	iat, exp, err = tokenTimes(tok)
	if err != nil {
		return "", iat, exp, fmt.Errorf("vault's identity token for %q: %w", s.creds.Service, err)
	}
	return tok, iat, exp, nil
}

// describe makes a Vault error fit for logs: a timeout says which Vault
// did not answer and for how long, other errors are sanitised.
func (s *Source) describe(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("vault at %s did not answer within %s (unreachable, or too slow)", s.client.Address(), requestTimeout)
	}
	return vault.Sanitize(err)
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
	s.mu.Lock()
	s.entityID = login.EntityID
	s.mu.Unlock()
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
