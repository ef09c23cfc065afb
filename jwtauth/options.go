package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/endpoint"
)

// Mode chooses how a [Verifier] decides that a token is genuine.
type Mode int

const (
	// Local checks the signature against the published keys (JWKS) and the
	// claims, without calling the issuer per token. The default.
	Local Mode = iota
	// Introspect asks the [Introspector] (Vault's identity/oidc/introspect,
	// as EdgeX does) and does not check the signature itself; exp, nbf,
	// iat, iss and aud are still checked on the payload.
	Introspect
	// Both checks locally first, then asks the [Introspector], which also
	// catches tokens of disabled or deleted Vault entities.
	Both
)

// String returns "local", "introspect" or "both".
func (m Mode) String() string {
	switch m {
	case Local:
		return "local"
	case Introspect:
		return "introspect"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults and limits of [Options].
const (
	// DefaultLeeway is the default clock skew allowed for exp, nbf and iat.
	DefaultLeeway = 5 * time.Second
	// MaxLeeway is the largest leeway NewVerifier accepts.
	MaxLeeway = 5 * time.Minute
	// DefaultRefetchInterval is the default minimum time between JWKS
	// fetches triggered by unknown keys.
	DefaultRefetchInterval = 30 * time.Second
	// DefaultKeysMaxAge is the default cap of how long a fetched JWKS is
	// used before it is fetched again (its Cache-Control max-age may make
	// it shorter).
	DefaultKeysMaxAge = 10 * time.Minute
	// MaxKeysMaxAge is the largest KeysMaxAge accepted.
	MaxKeysMaxAge = time.Hour
	// DefaultIntrospectionRecheck is how long, by default in Introspect
	// and Both modes, a token Vault called active is trusted before Vault
	// is asked again, and a token Vault refused stays refused without
	// asking.
	DefaultIntrospectionRecheck = 30 * time.Second
	// DefaultCacheSize is the default number of verified tokens cached.
	DefaultCacheSize = 10000
	// DefaultMaxTokenSize is the default size limit of a token, in bytes.
	DefaultMaxTokenSize = 8 << 10
	// MaxCacheSize is the largest CacheSize accepted.
	MaxCacheSize = 1 << 20
	// MaxHeaderSize bounds the encoded header segment of a token, in bytes.
	MaxHeaderSize = 1 << 10
)

// DefaultAlgorithms is the default allow-list of signing algorithms.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"}

// supportedAlgorithms are the algorithms a Verifier can check: asymmetric
// signatures only.
var supportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Options configure a [Verifier]. Issuer and Audiences are required;
// KeysURL is required in Local and Both modes and Introspector in
// Introspect and Both modes. Zero values of the other fields mean their
// defaults.
type Options struct {
	// Issuer is the expected iss claim, compared exactly: Vault's issuer,
	// e.g. http://127.0.0.1:8200/v1/identity/oidc (see [Discover]).
	Issuer string
	// Audiences are the accepted aud values; a token must carry at least
	// one of them.
	Audiences []string
	// KeysURL is the JWKS URL (Vault: <issuer>/.well-known/keys).
	KeysURL string
	// Algorithms is the allow-list of signing algorithms. Default
	// [DefaultAlgorithms]; PS256, PS384 and PS512 may be added. "none" and
	// the HMAC algorithms (HS*) are always refused: listing them is an error.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat. Default 5 s,
	// at most 5 minutes.
	Leeway time.Duration
	// Mode is Local (default), Introspect or Both.
	Mode Mode
	// Introspector answers whether a token is active; required in
	// Introspect and Both modes (see [NewVaultIntrospector]).
	Introspector Introspector
	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout
	// that never uses HTTP_PROXY or HTTPS_PROXY (whoever ran the proxy
	// could hand over keys of its own) and follows no redirect.
	HTTPClient *http.Client
	// RefetchInterval is the minimum time between JWKS fetches triggered by
	// tokens naming an unknown kid, and between retries of a failed fetch.
	// Default 30 s.
	RefetchInterval time.Duration
	// KeysMaxAge caps how long a fetched JWKS is used: after 4/5 of it a
	// fetch starts in the background, after all of it the keys are fetched
	// before the next verification, so a key the issuer rotated out stops
	// verifying. The JWKS's Cache-Control max-age can only shorten it (to
	// no less than 30 s). Default 10 minutes, at most an hour.
	KeysMaxAge time.Duration
	// CacheSize is the maximum number of verified tokens cached. Default
	// 10000; a negative value turns the cache off.
	CacheSize int
	// CacheTTL, when positive, bounds how long a verified token stays in
	// the cache (it never stays past its exp). In Introspect and Both
	// modes this bounds how long a token Vault would now refuse (its
	// entity was disabled, say) is still accepted, and how long a token
	// Vault refused is refused without asking again. Default: until exp in
	// Local mode, [DefaultIntrospectionRecheck] in the others.
	CacheTTL time.Duration
	// MaxTokenSize is the largest token accepted, in bytes; larger tokens
	// are refused before parsing. Default 8 KiB.
	MaxTokenSize int
	// Logger receives key refreshes and introspection failures, never
	// tokens. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time; for tests. Default time.Now.
	Now func() time.Time
	// OnVerify, if not nil, is called with the result of every Verify:
	// nil for an accepted token, else the refusal. For metrics; it must
	// be quick and must not keep the error's token-free text elsewhere
	// than in counters and logs.
	OnVerify func(err error)
}

// settings are validated Options with defaults applied.
type settings struct {
	Options
	algs map[string]bool
}

// validate checks opts and applies defaults.
func (opts Options) validate() (*settings, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if opts.Issuer == "" {
		bad("Issuer is required")
	}
	if len(opts.Audiences) == 0 {
		bad("Audiences: at least one audience is required")
	}
	if slices.Contains(opts.Audiences, "") {
		bad("Audiences: empty audience")
	}
	opts.Audiences = slices.Clone(opts.Audiences)

	algs := map[string]bool{}
	list := opts.Algorithms
	if len(list) == 0 {
		list = DefaultAlgorithms
	}
	for _, a := range list {
		switch {
		case strings.EqualFold(a, "none"):
			bad("Algorithms: %q is never accepted", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			bad("Algorithms: %q (HMAC) is never accepted: tokens must be signed with asymmetric keys", a)
		case !slices.Contains(supportedAlgorithms, a):
			bad("Algorithms: unsupported algorithm %q (supported: %s)", a, strings.Join(supportedAlgorithms, ", "))
		default:
			algs[a] = true
		}
	}
	opts.Algorithms = slices.Clone(list)

	switch {
	case opts.Leeway == 0:
		opts.Leeway = DefaultLeeway
	case opts.Leeway < 0 || opts.Leeway > MaxLeeway:
		bad("Leeway %s must be between 0 and %s", opts.Leeway, MaxLeeway)
	}

	switch opts.Mode {
	case Local, Introspect, Both:
	default:
		bad("Mode %s is unknown", opts.Mode)
	}
	if opts.Mode != Local && opts.Introspector == nil {
		bad("Introspector is required in %s mode", opts.Mode)
	}
	if opts.Mode != Introspect {
		if opts.KeysURL == "" {
			bad("KeysURL is required in %s mode", opts.Mode)
		} else if _, err := endpoint.URL(opts.KeysURL, "https", "http"); err != nil {
			bad("KeysURL %v", err)
		}
	}

	switch {
	case opts.RefetchInterval == 0:
		opts.RefetchInterval = DefaultRefetchInterval
	case opts.RefetchInterval < 0:
		bad("RefetchInterval %s must not be negative", opts.RefetchInterval)
	}
	switch {
	case opts.KeysMaxAge == 0:
		opts.KeysMaxAge = DefaultKeysMaxAge
	case opts.KeysMaxAge < MinKeysMaxAge || opts.KeysMaxAge > MaxKeysMaxAge:
		bad("KeysMaxAge %s must be between %s and %s", opts.KeysMaxAge, MinKeysMaxAge, MaxKeysMaxAge)
	}
	if opts.CacheTTL == 0 && opts.Mode != Local {
		opts.CacheTTL = DefaultIntrospectionRecheck
	}
	switch {
	case opts.CacheSize == 0:
		opts.CacheSize = DefaultCacheSize
	case opts.CacheSize > MaxCacheSize:
		bad("CacheSize %d is larger than %d", opts.CacheSize, MaxCacheSize)
	}
	if opts.CacheTTL < 0 {
		bad("CacheTTL %s must not be negative", opts.CacheTTL)
	}
	switch {
	case opts.MaxTokenSize == 0:
		opts.MaxTokenSize = DefaultMaxTokenSize
	case opts.MaxTokenSize < 0:
		bad("MaxTokenSize %d must not be negative", opts.MaxTokenSize)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jwtauth: options: %w", err)
	}
	return &settings{Options: opts, algs: algs}, nil
}
