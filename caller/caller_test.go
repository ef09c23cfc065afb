package caller_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/caller"
)

const ping = "/api/v3/ping"

func do(h http.Handler, method, path string, c *caller.Info) int {
	req := httptest.NewRequest(method, path, nil)
	if c != nil {
		req = req.WithContext(caller.With(req.Context(), *c))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func TestRequire(t *testing.T) {
	h := caller.Require(ping)(ok)
	op := &caller.Info{Name: "operator", Source: caller.Overlay}
	assert.Equal(t, http.StatusUnauthorized, do(h, "GET", "/api/v3/reading", nil))
	assert.Equal(t, http.StatusNoContent, do(h, "GET", ping, nil), "ping needs no caller")
	assert.Equal(t, http.StatusNoContent, do(h, "HEAD", ping, nil), "nor does HEAD ping")
	assert.Equal(t, http.StatusUnauthorized, do(h, "POST", ping, nil), "only GET and HEAD are exempt")
	assert.Equal(t, http.StatusUnauthorized, do(h, "DELETE", ping, nil), "only GET and HEAD are exempt")
	assert.Equal(t, http.StatusUnauthorized, do(h, "GET", "/api/v3%2Fping", nil), "an encoded path is not the ping path")
	assert.Equal(t, http.StatusUnauthorized, do(h, "GET", "/api/v3/ping/", nil))
	assert.Equal(t, http.StatusNoContent, do(h, "GET", "/api/v3/reading", op))
	assert.Equal(t, http.StatusUnauthorized, do(h, "GET", "/", &caller.Info{}), "an empty name is no caller")
}

func TestAllow(t *testing.T) {
	h := caller.Allow("device-virtual")(ok)
	assert.Equal(t, http.StatusUnauthorized, do(h, "GET", "/", nil))
	assert.Equal(t, http.StatusForbidden, do(h, "GET", "/", &caller.Info{Name: "operator"}))
	assert.Equal(t, http.StatusNoContent, do(h, "GET", "/", &caller.Info{Name: "device-virtual"}))

	v := caller.AllowVerified("device-virtual")(ok)
	assert.Equal(t, http.StatusForbidden, do(v, "GET", "/", &caller.Info{Name: "device-virtual", Source: caller.Overlay}),
		"a name the dialer only asserted is not enough")
	assert.Equal(t, http.StatusNoContent, do(v, "GET", "/", &caller.Info{Name: "device-virtual", Source: caller.Overlay, Verified: true}))
	assert.Equal(t, http.StatusForbidden, do(v, "GET", "/", &caller.Info{Name: "operator", Verified: true}))
}

func TestFrom(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	_, found := caller.From(req.Context())
	assert.False(t, found)
	assert.Equal(t, "", caller.Name(req.Context()))
	ctx := caller.With(req.Context(), caller.Info{Name: "core-data", Source: caller.JWT, Verified: true})
	c, found := caller.From(ctx)
	assert.True(t, found)
	assert.Equal(t, caller.Info{Name: "core-data", Source: caller.JWT, Verified: true}, c)
	assert.Equal(t, "core-data", caller.Name(ctx))
	assert.Equal(t, "jwt", c.Source.String())
}
