package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ztedge/ztedge/zerotrust"
)

// Realm is the realm of the Bearer challenges Middleware sends.
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

// Middleware returns middleware that requires "Authorization: Bearer <jwt>"
// on every request except those for the exempt paths (the ping path), and
// verifies the token with v.
//
// A request without a bearer token gets 401 with
// `WWW-Authenticate: Bearer realm="ztedge"`; one whose token is refused
// gets 401 with `Bearer realm="ztedge", error="invalid_token",
// error_description="<reason>"` (RFC 6750), the reason never containing
// the token. A token must carry a name claim. On success the claims are
// in the request context ([ClaimsFrom]) and the caller's name is the
// token's name claim ([zerotrust.Caller]), so handlers and
// [zerotrust.AllowCallers] work as with Ziti callers. On an overlay
// connection the token's name replaces the Ziti identity of the peer as
// the caller: a gateway relaying a user's token is a legitimate peer
// whose identity differs from the token's name.
//
// It suits net/http and gorilla/mux's Router.Use alike.
func Middleware(v *Verifier, exempt ...string) func(http.Handler) http.Handler {
	log := v.s.Logger
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Compare the path as sent: "/api/v3%2Fping" decodes to the ping
			// path, but routers may match it to another route.
			if slices.Contains(exempt, r.URL.EscapedPath()) {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			token, err := bearerToken(r)
			if err != nil {
				log.DebugContext(ctx, "refused a request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
				challenge(w, err)
				return
			}
			claims, err := v.Verify(ctx, token)
			if err == nil && claims.Name == "" {
				err = refuse(ErrMalformed, "no name claim")
			}
			if err != nil {
				log.DebugContext(ctx, "refused a request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
				challenge(w, err)
				return
			}
			ctx = zerotrust.WithCaller(WithClaims(ctx, claims), claims.Name)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// errNoToken is a request without bearer credentials.
var errNoToken = errors.New("no bearer token")

// bearerToken returns the request's bearer token: errNoToken when there is
// none (no Authorization header, or another scheme), an *Error when the
// header is malformed.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", errNoToken
	case 1:
	default:
		return "", refuse(ErrMalformed, "more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	return strings.Trim(token, " "), nil
}

// challenge answers 401 with a Bearer challenge for err.
func challenge(w http.ResponseWriter, err error) {
	h := `Bearer realm="` + Realm + `"`
	if !errors.Is(err, errNoToken) {
		h += `, error="invalid_token", error_description="` + quotable(description(err)) + `"`
	}
	w.Header().Set("WWW-Authenticate", h)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
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

// BearerTransport returns a RoundTripper that adds "Authorization: Bearer
// <token>" to each request, the token coming from tokens (which caches it:
// [zerotrust.VaultTokenSource] asks Vault once per token lifetime). It
// sends a modified copy of the request and leaves requests that already
// have an Authorization header untouched. A nil base means
// http.DefaultTransport.
//
// The token proves the service's identity to every service accepting its
// audience: use it only towards peers that should see it.
func BearerTransport(base http.RoundTripper, tokens zerotrust.TokenSource) http.RoundTripper {
	if tokens == nil {
		panic("jwtauth: BearerTransport needs a token source")
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &bearerTransport{base: base, tokens: tokens}
}

type bearerTransport struct {
	base   http.RoundTripper
	tokens zerotrust.TokenSource
}

// RoundTrip adds the token and sends the request with the base transport.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(req.Header.Values("Authorization")) > 0 {
		return t.base.RoundTrip(req)
	}
	token, err := t.tokens.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on errors
		}
		return nil, fmt.Errorf("jwtauth: getting the service's identity token: %w", err)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+token)
	return t.base.RoundTrip(out)
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *bearerTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
