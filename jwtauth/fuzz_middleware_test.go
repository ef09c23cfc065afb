package jwtauth_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/jwtauth"
)

// FuzzMiddleware feeds raw request lines, Authorization values and overlay
// callers through the JWT middleware and the caller checks, and checks
// that a request reaches the handler only as allowed: without a valid
// token only a GET or HEAD whose path, as sent, is exactly the ping path;
// with one, only as the token's name, and over the overlay only from that
// identity or a trusted relay.
func FuzzMiddleware(f *testing.F) {
	valid, _ := fuzzSeeds(f)
	good := valid["valid-es384"]
	for _, line := range []string{
		"GET /api/v3/ping HTTP/1.1", "HEAD /api/v3/ping HTTP/1.1", "POST /api/v3/ping HTTP/1.1",
		"GET /api/v3%2Fping HTTP/1.1", "GET /api/v3/ping/ HTTP/1.1", "GET /api/v3/ping?x=1 HTTP/1.1",
		"GET //api/v3/ping HTTP/1.1", "GET /api/v3/./ping HTTP/1.1", "GET /API/V3/PING HTTP/1.1",
		"GET http://core-data/api/v3/ping HTTP/1.1", "OPTIONS * HTTP/1.1", "GET /api/v3/reading HTTP/1.1",
	} {
		for _, auth := range []string{"", "Bearer " + good, "bearer " + good, "Basic x", "Bearer " + good + "x"} {
			for _, conn := range []string{"", "core-data", "device-virtual", "gateway"} {
				f.Add(line, auth, conn)
			}
		}
	}
	v := fuzzVerifier(f)
	var reached *http.Request
	h := jwtauth.Middleware(v, jwtauth.MiddlewareOptions{Exempt: []string{"/api/v3/ping"}, Relays: []string{"gateway"}})(
		caller.Require("/api/v3/ping")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = r })))
	f.Fuzz(func(t *testing.T, line, auth, conn string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(line + "\r\nHost: core-data\r\n\r\n")))
		if err != nil {
			return
		}
		if auth != "" {
			if strings.ContainsAny(auth, "\r\n") {
				return
			}
			req.Header.Set("Authorization", auth)
		}
		if conn != "" {
			req = req.WithContext(caller.With(req.Context(), caller.Info{Name: conn, Source: caller.Overlay}))
		}
		reached = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if reached == nil {
			require.Equal(t, http.StatusUnauthorized, rec.Code, "status of a refused request")
			return
		}
		ping := (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.URL.EscapedPath() == "/api/v3/ping"
		who, ok := caller.From(reached.Context())
		require.True(t, ok || ping, "%q reached the handler without a caller", line)
		if ok && who.Source == caller.JWT {
			require.Equal(t, "core-data", who.Name, "JWT caller")
			require.True(t, conn == "" || conn == "core-data" || conn == "gateway", "%s's connection passed with core-data's token", conn)
		}
		if ok && who.Source == caller.Overlay {
			require.True(t, ping, "%q reached the handler on the overlay caller alone", line)
		}
	})
}
