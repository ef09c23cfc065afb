// Package caller carries the authenticated caller of a request in the
// request's context, and has the middleware that requires a caller or lets
// only named callers through.
//
// The caller is put there by whoever authenticated it: the listener of a
// zerotrust service for the Ziti identity on the other end of the
// connection, and the JWT middleware for a verified token's name claim.
// Handlers read it with [From].
package caller

import (
	"context"
	"net/http"
	"slices"
)

// Source says how a caller was authenticated.
type Source int

const (
	// Overlay: the Ziti identity that dialed the connection the request
	// arrived on.
	Overlay Source = iota + 1
	// JWT: the name claim of a JWT whose signature and claims were verified.
	JWT
)

// String returns "overlay" or "jwt".
func (s Source) String() string {
	switch s {
	case Overlay:
		return "overlay"
	case JWT:
		return "jwt"
	}
	return "unknown"
}

// Info is an authenticated caller.
type Info struct {
	// Name is the caller's identity: a Ziti identity name, or a JWT's name
	// claim (a service or user name).
	Name string
	// Source says how Name was learnt.
	Source Source
	// Verified reports whether Name was checked by someone other than the
	// caller: a JWT's signature, or a Ziti router that took the dialer's
	// identity from its own validated session (Ziti 2.x). It is false for
	// a Ziti caller name that the dialing SDK asserted and the router
	// passed on unchecked (Ziti 1.x routers): Dial policy still decides who
	// may connect at all, but a permitted dialer could claim another
	// permitted identity's name.
	Verified bool
	// Relay is set when a JWT arrived over the overlay from a trusted
	// relay (an API gateway) whose identity differs from the token's name:
	// the relay's Ziti identity.
	Relay string
}

type key struct{}

// With returns a context carrying the caller.
func With(ctx context.Context, c Info) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the caller carried by ctx, and false when there is none.
func From(ctx context.Context) (Info, bool) {
	c, ok := ctx.Value(key{}).(Info)
	return c, ok && c.Name != ""
}

// Name returns the caller's name, or "" when ctx carries no caller.
func Name(ctx context.Context) string {
	c, _ := From(ctx)
	return c.Name
}

// Exempt reports whether r is a health check that needs no caller: a GET
// or HEAD whose path, as sent (so "/api/v3%2Fping" is not "/api/v3/ping"),
// is exactly one of paths.
func Exempt(r *http.Request, paths ...string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return slices.Contains(paths, r.URL.EscapedPath())
}

// Require returns middleware that answers 401 to every request without an
// authenticated caller, except the health checks on exempt paths (see
// [Exempt]). It suits net/http and gorilla/mux's Router.Use alike.
func Require(exempt ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := From(r.Context()); !ok && !Exempt(r, exempt...) {
				http.Error(w, "unauthenticated caller", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Allow returns middleware that lets only the named callers through: 401
// when there is no authenticated caller, 403 when it is not listed.
func Allow(names ...string) func(http.Handler) http.Handler {
	return allow(false, names)
}

// AllowVerified is [Allow] that also answers 403 to a caller whose name
// was not verified (see [Info.Verified]): on Ziti 1.x routers, only
// callers that also sent a verified JWT pass.
func AllowVerified(names ...string) func(http.Handler) http.Handler {
	return allow(true, names)
}

func allow(verified bool, names []string) func(http.Handler) http.Handler {
	names = slices.Clone(names)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := From(r.Context())
			switch {
			case !ok:
				http.Error(w, "unauthenticated caller", http.StatusUnauthorized)
			case !slices.Contains(names, c.Name):
				http.Error(w, "caller not allowed", http.StatusForbidden)
			case verified && !c.Verified:
				http.Error(w, "caller identity not verified", http.StatusForbidden)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
