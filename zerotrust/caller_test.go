package zerotrust

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRequireCallerAndAllowCallers(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := RequireCaller(DefaultPingPath)(ok)
	restricted := AllowCallers("device-virtual")(ok)

	do := func(h http.Handler, path, caller string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if caller != "" {
			req = req.WithContext(WithCaller(req.Context(), caller))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusUnauthorized, do(h, "/api/v3/reading", ""))
	assert.Equal(t, http.StatusNoContent, do(h, DefaultPingPath, ""), "ping needs no caller")
	assert.Equal(t, http.StatusUnauthorized, do(h, "/api/v3%2Fping", ""), "an encoded path is not the ping path")
	assert.Equal(t, http.StatusNoContent, do(h, "/api/v3/reading", "operator"))
	assert.Equal(t, http.StatusUnauthorized, do(restricted, "/", ""))
	assert.Equal(t, http.StatusForbidden, do(restricted, "/", "operator"))
	assert.Equal(t, http.StatusNoContent, do(restricted, "/", "device-virtual"))
}
