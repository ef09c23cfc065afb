package vault

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxy counts the connections an HTTP proxy would get.
func proxy(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return "http://" + l.Addr().String(), conns
}

func TestClientIgnoresTheEnvironment(t *testing.T) {
	var gotToken atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken.Store(r.Header.Get("X-Vault-Token"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"ok":true}}`))
	}))
	defer srv.Close()
	p, conns := proxy(t)
	t.Setenv("HTTP_PROXY", p)
	t.Setenv("HTTPS_PROXY", p)
	t.Setenv("http_proxy", p)
	t.Setenv("VAULT_HTTP_PROXY", p)
	t.Setenv("VAULT_PROXY_ADDR", p)
	t.Setenv("NO_PROXY", "")
	t.Setenv("VAULT_TOKEN", "s.from-the-environment")
	t.Setenv("VAULT_ADDR", "http://192.0.2.1:8200")

	c, err := NewClient(Config{Address: srv.URL})
	require.NoError(t, err)
	assert.Equal(t, "", c.Token(), "VAULT_TOKEN is not picked up")
	assert.Equal(t, srv.URL, c.Address(), "VAULT_ADDR does not replace the given address")
	data, err := Read(context.Background(), c, "secret/x")
	require.NoError(t, err)
	assert.Equal(t, true, data["ok"])
	assert.Equal(t, "", gotToken.Load())
	assert.Zero(t, conns.Load(), "nothing went through the proxy")

	assert.Nil(t, Transport().Proxy, "the transport for secrets uses no proxy, whatever the environment")
	hc, err := HTTPClient(Config{Address: srv.URL})
	require.NoError(t, err)
	resp, err := hc.Get(srv.URL + "/v1/identity/oidc/.well-known/keys")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Zero(t, conns.Load())
}

func TestClientKeepsVerifyingTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	c, err := NewClient(Config{Address: srv.URL, MaxRetries: -1})
	require.NoError(t, err)
	_, err = Read(context.Background(), c, "sys/health")
	assert.ErrorContains(t, err, "certificate", "VAULT_SKIP_VERIFY must not turn verification off")
}

func TestErrorsCarryNoVaultBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		// A body that echoes what was sent, as a proxy in front of Vault might.
		_, _ = w.Write([]byte("bad request: secret_id=s3cr3t-echoed " + string(make([]byte, 600))))
	}))
	defer srv.Close()
	c, err := NewClient(Config{Address: srv.URL, MaxRetries: -1})
	require.NoError(t, err)
	_, err = AppRoleLogin(context.Background(), c, "ztedge-approle", "role", "s3cr3t-value")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
	assert.NotContains(t, err.Error(), "s3cr3t-echoed", "a body that is not Vault's error list is not copied")
	assert.Equal(t, http.StatusBadRequest, StatusOf(err))
	assert.Less(t, len(err.Error()), 500, "Vault's body is cut short")
	_, err = Write(context.Background(), c, "auth/x/login", map[string]any{"secret_id": "s3cr3t-value"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
}

func TestAddresses(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8200", "https://vault.example:8200", "https://vault.example:8200/"} {
		assert.NoError(t, CheckAddress(ok), ok)
	}
	for _, bad := range []string{"127.0.0.1:8200", "ftp://v", "https://", "https://v/v1/x", "https://u:p@v", "https://v?x=1"} {
		assert.Error(t, CheckAddress(bad), bad)
	}
	assert.True(t, IsLoopback("http://127.0.0.1:8200"))
	assert.True(t, IsLoopback("http://[::1]:8200"))
	assert.True(t, IsLoopback("http://localhost:8200"))
	assert.False(t, IsLoopback("http://198.18.0.1:8200"))
	assert.False(t, IsLoopback("http://vault.example:8200"))
}

func TestClientFollowsNoRedirectAndDropsEnvironmentHeaders(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var headers atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers.Store(r.Header.Clone())
		http.Redirect(w, r, other.URL+r.URL.Path+"?token=secret-in-query", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	t.Setenv("VAULT_NAMESPACE", "attacker-ns")
	t.Setenv("VAULT_HEADERS", `{"X-Env-Header":"from-env"}`)

	c, err := NewClient(Config{Address: srv.URL})
	require.NoError(t, err)
	_, err = AppRoleLogin(context.Background(), c, "approle", "role", "SECRET-ID-VALUE")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect to "+other.URL)
	assert.NotContains(t, err.Error(), "secret-in-query", "the redirect's query is not repeated")
	assert.NotContains(t, err.Error(), "SECRET-ID-VALUE")
	assert.Zero(t, elsewhere.Load(), "the login was sent on to the redirect's host")
	h := headers.Load().(http.Header)
	assert.Empty(t, h.Get("X-Vault-Namespace"), "VAULT_NAMESPACE was sent")
	assert.Empty(t, h.Get("X-Env-Header"), "VAULT_HEADERS were sent")
	assert.Equal(t, "true", h.Get("X-Vault-Request"), "Vault's SSRF header is kept")

	lc, err := Clone(c)
	require.NoError(t, err)
	assert.Empty(t, lc.Namespace())
	assert.Empty(t, lc.Headers().Get("X-Env-Header"))
	assert.Empty(t, lc.Token())
}

func TestWarnPlainHTTP(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	WarnPlainHTTP(log, "https://vault.example:8200", "tokens", "use https")
	WarnPlainHTTP(log, "http://127.0.0.1:8200", "tokens", "use https")
	WarnPlainHTTP(log, "http://localhost:8200", "tokens", "use https")
	assert.Empty(t, buf.String(), "https or loopback: no warning")
	WarnPlainHTTP(log, "HTTP://vault.example:8200", "tokens", "use https")
	assert.Contains(t, buf.String(), "plain http on a non-loopback address: tokens cross the network unprotected; use https")
}
