package tunnel

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/gateway"
)

func TestHTTPProxyReachesServicesByInterceptName(t *testing.T) {
	f := standardFake(t)
	tn, log := startFake(t, f, Options{HTTP: loopback0})
	addr, ok := tn.HTTPAddr()
	require.True(t, ok)
	proxyURL := &url.URL{Scheme: "http", Host: addr.String()}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}

	t.Run("an intercept name reaches its service, Host kept", func(t *testing.T) {
		code, body := get(t, client, "http://core-data.edgex.ziti/api/v3/ping")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "core-data for /api/v3/ping (Host core-data.edgex.ziti)", body)
		code, _ = get(t, client, "http://CORE-DATA.edgex.ziti./api/v3/ping")
		assert.Equal(t, http.StatusOK, code, "host names are case-insensitive, a trailing dot is dropped")
	})

	t.Run("a service the identity may not dial is refused with 403", func(t *testing.T) {
		code, body := get(t, client, "http://device-virtual.edgex.ziti/api/v3/ping")
		assert.Equal(t, http.StatusForbidden, code)
		assert.Contains(t, body, `identity "operator" may not dial the ziti service "edgex.device-virtual"`)
		code, body = get(t, client, "http://app-rules-engine.edgex.ziti/api/v3/ping")
		assert.Equal(t, http.StatusForbidden, code)
		assert.Contains(t, body, `may not dial the ziti service "edgex.app-rules-engine": the controller lists no such service`)
	})

	t.Run("a permitted service that nobody hosts is 502", func(t *testing.T) {
		code, body := get(t, client, "http://core-metadata.edgex.ziti/api/v3/ping")
		assert.Equal(t, http.StatusBadGateway, code)
		assert.Contains(t, body, "nothing hosts the service right now")
	})

	t.Run("any other host is refused and never dialled", func(t *testing.T) {
		before := f.dials.Load()
		for _, u := range []string{"http://example.com/", "http://127.0.0.1:1/", "http://core-data.edgex.ziti:8080/",
			"http://" + addr.String() + "/", "http://a.b.edgex.ziti/"} {
			code, body := get(t, client, u)
			assert.Equal(t, http.StatusForbidden, code, u)
			assert.Contains(t, body, "ztedge tunnel: not an overlay address: ", u)
			assert.Contains(t, body, "this proxy reaches only Ziti services, by their intercept names (http://<service>.edgex.ziti)", u)
		}
		assert.Equal(t, before, f.dials.Load())
	})

	t.Run("a request that is not a proxy request says how to use the proxy", func(t *testing.T) {
		code, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr.String()+"/api/v3/ping")
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, body, "set it as the HTTP proxy")
		assert.Contains(t, body, "curl -x http://"+addr.String()+" http://core-data.edgex.ziti/api/v3/ping")
	})

	t.Run("CONNECT reaches an overlay service and nothing else", func(t *testing.T) {
		c, br := sendConnect(t, addr.String(), "core-data.edgex.ziti:80")
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		fmt.Fprintf(c, "GET /over-connect HTTP/1.1\r\nHost: core-data.edgex.ziti\r\nConnection: close\r\n\r\n")
		resp, err = http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "core-data for /over-connect (Host core-data.edgex.ziti)", string(b))

		for target, want := range map[string]int{"example.com:443": 403, "device-virtual.edgex.ziti:80": 403, "core-metadata.edgex.ziti:80": 502} {
			_, br := sendConnect(t, addr.String(), target)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			assert.Equal(t, want, resp.StatusCode, target)
			b, _ := io.ReadAll(resp.Body)
			assert.True(t, strings.HasPrefix(string(b), "ztedge tunnel: "), target)
		}
	})

	t.Run("refusals are logged by host, without path or query", func(t *testing.T) {
		_, _ = get(t, client, "http://example.com/private?token=s3cret")
		waitFor(t, "the log line", func() bool { return strings.Contains(log.String(), "HTTP proxy: GET example.com from 127.0.0.1:") })
		assert.NotContains(t, log.String(), "s3cret")
		assert.NotContains(t, log.String(), "/private")
	})

	t.Run("forwarding headers are neither added nor passed on", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://headers.edgex.ziti/", nil)
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
		for _, h := range []string{"Forwarded", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-User",
			"X-Forwarded-Whatever", "X-Real-Ip", "X-Original-Url", "X-Original-Uri", gateway.CallerHeader} {
			req.Header.Set(h, "6.6.6.6")
		}
		req.Header["x_forwarded_user"] = []string{"6.6.6.6"}
		req.Header.Set("X-Request-Id", "kept")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.NotContains(t, string(b), "Forwarded")
		assert.NotContains(t, string(b), "Proxy-Authorization")
		assert.NotContains(t, string(b), "6.6.6.6")
		assert.Contains(t, string(b), "X-Request-Id: kept", "other headers are passed on")
	})
}

// sendConnect sends CONNECT target to the proxy at addr.
func sendConnect(t *testing.T, addr, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	return c, bufio.NewReader(c)
}

// newHeaderEcho is a service that answers with the request's headers.
func newHeaderEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.Header.Write(w)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestDropClientHeaders(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-User",
		"X-Real-Ip", "X-Original-Url", "X-Original-Uri", gateway.CallerHeader, "Accept", "X-Forwarded"} {
		h.Set(k, "v")
	}
	h["x-real-ip"] = []string{"v"}
	h["X_Ztedge_Caller"] = []string{"v"}
	dropClientHeaders(h)
	assert.Equal(t, http.Header{"Accept": {"v"}, "X-Forwarded": {"v"}}, h)
	assert.Equal(t, gateway.CallerHeader, callerHeader)
}
