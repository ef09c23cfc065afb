package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/vault"
)

// Realm is the realm of the Bearer challenges this package sends.
const Realm = "ztedge"

type claimsKey struct{}

// WithClaims returns a context carrying verified claims; Middleware uses it.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims Middleware put in ctx.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// ErrNoToken is the error of [VerifyRequest] for a request that carries no
// bearer token at all.
var ErrNoToken = errors.New(errPrefix + "no bearer token")

// ErrWrongConnection is the refusal of a token that arrived over the
// overlay from an identity other than the token's name, which is not a
// trusted relay (see [MiddlewareOptions.Relays]).
var ErrWrongConnection = errors.New("token does not belong to the connection's identity")

// TokenVerifier checks one token; [*Verifier] is one.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// VerifyRequest verifies the request's "Authorization: Bearer <jwt>" with
// v and requires a name claim. It returns [ErrNoToken] when the request
// has no bearer token, and an [*Error] when the header is malformed or the
// token is refused.
func VerifyRequest(v TokenVerifier, r *http.Request) (*Claims, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return nil, ErrNoToken
	case 1:
	default:
		return nil, refuse(ErrMalformed, "more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, ErrNoToken
	}
	token = strings.Trim(token, " ")
	if token == "" {
		return nil, refuse(ErrMalformed, "empty bearer token")
	}
	claims, err := v.Verify(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if claims.Name == "" {
		return nil, refuse(ErrMalformed, "no name claim")
	}
	return claims, nil
}

// WriteChallenge answers 401 with an RFC 6750 Bearer challenge for err:
// `Bearer realm="ztedge"` for [ErrNoToken], with `error="invalid_token"`
// and the refusal's reason (never token content) otherwise.
func WriteChallenge(w http.ResponseWriter, err error) {
	h := `Bearer realm="` + Realm + `"`
	if !errors.Is(err, ErrNoToken) {
		h += `, error="invalid_token", error_description="` + quotable(description(err)) + `"`
	}
	w.Header().Set("WWW-Authenticate", h)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

// MiddlewareOptions configure [Middleware].
type MiddlewareOptions struct {
	// Exempt are the health-check paths that need no token; only GET and
	// HEAD requests for exactly these paths are exempt (see caller.Exempt).
	Exempt []string
	// Relays are the overlay identities that may forward other
	// identities' JWTs (an API gateway's identity). A JWT that arrives on
	// an overlay connection from any other identity must carry that
	// identity's name, so a permitted peer cannot pass another service's
	// token off as its own.
	Relays []string
}

// Middleware returns middleware that requires "Authorization: Bearer <jwt>"
// on every request but the exempt ones and verifies the token with v.
//
// A request without a bearer token gets 401 with
// `WWW-Authenticate: Bearer realm="ztedge"`; one whose token is refused
// gets 401 with `error="invalid_token"` and the reason (see
// [WriteChallenge]). On success the claims are in the request context
// ([ClaimsFrom]) and the caller ([caller.From]) is the token's name,
// verified. On a connection whose overlay caller is known (the listener
// puts it in the context), the token's name must be that caller, unless
// the caller is one of opts.Relays: then the caller is the token's name
// with the relay recorded ([caller.Info.Relay]).
//
// It suits net/http and gorilla/mux's Router.Use alike.
func Middleware(v *Verifier, opts MiddlewareOptions) func(http.Handler) http.Handler {
	log := v.s.Logger
	exempt, relays := slices.Clone(opts.Exempt), slices.Clone(opts.Relays)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if caller.Exempt(r, exempt...) {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			claims, err := VerifyRequest(v, r)
			var who caller.Info
			if err == nil {
				who, err = bind(ctx, claims, relays)
			}
			if err != nil {
				// The path without the query: a query may hold a token.
				log.DebugContext(ctx, "refused a request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
				WriteChallenge(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(caller.With(WithClaims(ctx, claims), who)))
		})
	}
}

// bind ties a verified token to the connection it arrived on.
func bind(ctx context.Context, claims *Claims, relays []string) (caller.Info, error) {
	who := caller.Info{Name: claims.Name, Source: caller.JWT, Verified: true}
	conn, ok := caller.From(ctx)
	if !ok || conn.Source != caller.Overlay || conn.Name == claims.Name {
		return who, nil
	}
	if slices.Contains(relays, conn.Name) {
		who.Relay = conn.Name
		return who, nil
	}
	return caller.Info{}, &Error{Reason: ErrWrongConnection,
		Detail: fmt.Sprintf("the connection is %q's, the token %q's", conn.Name, claims.Name)}
}

// quotable keeps the characters RFC 6750 allows in error_description.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E) {
			return r
		}
		return -1
	}, s)
}

// TokenSource supplies the identity token a client sends. Token returns a
// token valid for a while yet; implementations cache it.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenSourceFunc adapts a function to a [TokenSource].
type TokenSourceFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// BearerTransport returns a RoundTripper that adds "Authorization: Bearer
// <token>" to each request, the token coming from tokens. It sends a
// modified copy of the request and leaves requests that already have an
// Authorization header untouched. A nil base means a copy of
// http.DefaultTransport that never uses HTTP_PROXY or HTTPS_PROXY.
//
// The token proves the service's identity to every service accepting its
// audience: use it only towards peers that should see it. On a redirect
// the token goes only to the origin (scheme, host and port) of the first
// request; a hop to any other origin is sent without it.
func BearerTransport(base http.RoundTripper, tokens TokenSource) http.RoundTripper {
	if tokens == nil {
		panic("jwtauth: BearerTransport needs a token source")
	}
	if base == nil {
		base = vault.Transport()
	}
	return &bearerTransport{base: base, tokens: tokens}
}

type bearerTransport struct {
	base   http.RoundTripper
	tokens TokenSource
}

// RoundTrip adds the token and sends the request with the base transport.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if first, ok := firstRequest(req); len(req.Header.Values("Authorization")) > 0 || !ok || !sameOrigin(first.URL, req.URL) {
		return t.base.RoundTrip(req)
	}
	token, err := t.tokens.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on errors
		}
		return nil, fmt.Errorf("jwtauth: getting the service's identity token: %w", err)
	}
	// A shallow copy with its own header map: the caller's request is not
	// changed, and nothing else is copied (Clone would copy the URL and
	// every header value, on every request).
	out := new(http.Request)
	*out = *req
	out.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		out.Header[k] = v
	}
	out.Header["Authorization"] = []string{"Bearer " + token}
	return t.base.RoundTrip(out)
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *bearerTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// firstRequest returns the request that started the redirect chain req
// belongs to (req itself when it is no redirect). ok is false when the
// chain cannot be followed back (a base transport that answered without
// setting the response's Request): the origin is then unknown.
func firstRequest(req *http.Request) (first *http.Request, ok bool) {
	for req.Response != nil {
		if req.Response.Request == nil {
			return nil, false
		}
		req = req.Response.Request
	}
	return req, true
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (an omitted port being the scheme's).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

// portOf returns u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
