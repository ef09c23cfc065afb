package zerotrust

import (
	"context"
	"net"
	"net/http"
	"slices"
)

type callerKey struct{}

// WithCaller returns a context carrying the authenticated caller's name.
func WithCaller(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, callerKey{}, name)
}

// Caller returns the authenticated caller's name carried by ctx: the Ziti
// identity of the peer on an overlay connection (see [ConnContext]) or
// the name claim of a verified JWT.
func Caller(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(callerKey{}).(string)
	return name, ok && name != ""
}

// ConnContext is an http.Server ConnContext hook that records the Ziti
// caller identity of each overlay connection in its requests' contexts.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if name, ok := CallerOf(c); ok {
		return WithCaller(ctx, name)
	}
	return ctx
}

// RequireCaller returns middleware that answers 401 to every request that
// has no authenticated caller, except requests for the exempt paths (the
// ping path). It suits net/http and gorilla/mux's Router.Use alike.
func RequireCaller(exempt ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Compare the path as sent: "/api/v3%2Fping" decodes to the ping
			// path but routers may match it elsewhere.
			if _, ok := Caller(r.Context()); !ok && !slices.Contains(exempt, r.URL.EscapedPath()) {
				http.Error(w, "unauthenticated caller", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// AllowCallers returns middleware that lets only the named callers through:
// 401 when there is no authenticated caller, 403 when it is not listed.
func AllowCallers(names ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, ok := Caller(r.Context())
			switch {
			case !ok:
				http.Error(w, "unauthenticated caller", http.StatusUnauthorized)
			case !slices.Contains(names, name):
				http.Error(w, "caller not allowed", http.StatusForbidden)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
