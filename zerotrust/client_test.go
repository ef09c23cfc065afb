package zerotrust

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/transport"
)

func TestJWTGoesOnlyToPeersThatRequireIt(t *testing.T) {
	echo := func() *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Header.Get("Authorization"))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	tokenPeer, otherPeer := echo(), echo()
	hostPort := func(srv *httptest.Server) (string, int) {
		u, _ := url.Parse(srv.URL)
		p, _ := strconv.Atoi(u.Port())
		return u.Hostname(), p
	}
	th, tp := hostPort(tokenPeer)
	oh, op := hostPort(otherPeer)
	cfg := &Config{
		Service: ServiceConfig{Port: 1, SecurityOptions: SecurityOptions{KeyVaultAddress: "http://127.0.0.1:8200"}},
		Clients: map[string]ClientConfig{
			"token-peer": {Host: th, Port: tp}, // plain: requires JWTs by default
			"other-peer": {Host: oh, Port: op, SecurityOptions: SecurityOptions{KeyRequireJWT: "false"}},
		},
	}
	require.NoError(t, cfg.Validate())
	var routes []transport.Route
	for n, c := range cfg.Clients {
		routes = append(routes, transport.Route{Name: n, Host: c.Host, Port: c.Port})
	}
	tr, err := transport.New(routes, nil)
	require.NoError(t, err)
	tokens := jwtauth.TokenSourceFunc(func(context.Context) (string, error) { return "service-jwt", nil })
	m := metrics.New("test", nil)
	client := &http.Client{Transport: &clientTransport{next: tr, withJWT: jwtauth.BearerTransport(tr, tokens),
		timeout: time.Second, peers: newPeerTracker(cfg, slog.New(slog.DiscardHandler), m)}}
	get := func(u string) string {
		resp, err := client.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	assert.Equal(t, "Bearer service-jwt", get(tokenPeer.URL))
	assert.Equal(t, "", get(otherPeer.URL), "a peer that does not require JWTs never sees the service's")
	assert.Equal(t, "Bearer service-jwt", get(strings.ToUpper(tokenPeer.URL[:4])+tokenPeer.URL[4:]),
		"the same peer again")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `ztedge_peer_requests_total{code="2xx",peer="token-peer",service="test"} 2`)
	assert.Contains(t, rec.Body.String(), `ztedge_peer_requests_total{code="2xx",peer="other-peer",service="test"} 1`)
	assert.Contains(t, rec.Body.String(), `ztedge_peer_request_seconds_count{peer="token-peer",service="test"} 2`)
}

func TestPeerLookupByURLHost(t *testing.T) {
	cfg := &Config{
		Service: ServiceConfig{Name: "device-virtual", SecurityOptions: SecurityOptions{
			KeyMode: "zerotrust", KeyController: "ctrl:1280", KeyCredentials: "creds.json"}},
		Clients: map[string]ClientConfig{
			"core-data": {SecurityOptions: SecurityOptions{KeyMode: "zerotrust"}},
		},
	}
	require.NoError(t, cfg.Validate())
	peers := newPeerTracker(cfg, slog.New(slog.DiscardHandler), metrics.New("device-virtual", nil))
	for _, u := range []string{"http://core-data.edgex.ziti/", "http://core-data.edgex.ziti:80/x", "http://Core-Data.EdgeX.Ziti:80/"} {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		if p := peers.lookup(req); assert.NotNil(t, p, u) {
			assert.Equal(t, "core-data", p.name, u)
		}
	}
	for _, u := range []string{"https://core-data.edgex.ziti/", "http://core-data.edgex.ziti:8080/", "http://core-data/"} {
		assert.Nil(t, peers.lookup(httptest.NewRequest(http.MethodGet, u, nil)), u)
	}
}

func TestZerotrustPeersGetNoJWTByDefault(t *testing.T) {
	cfg := &Config{
		Service: ServiceConfig{Name: "device-virtual", SecurityOptions: SecurityOptions{
			KeyMode: "zerotrust", KeyController: "ctrl:1280", KeyCredentials: "creds.json"}},
		Clients: map[string]ClientConfig{
			"core-data":     {SecurityOptions: SecurityOptions{KeyMode: "zerotrust"}},
			"core-metadata": {SecurityOptions: SecurityOptions{KeyMode: "zerotrust", KeyRequireJWT: "true"}},
		},
	}
	require.NoError(t, cfg.Validate())
	peers := newPeerTracker(cfg, slog.New(slog.DiscardHandler), metrics.New("device-virtual", nil))
	jwt := map[string]bool{}
	for _, p := range peers.byHost {
		jwt[p.name] = p.jwt
	}
	assert.Equal(t, map[string]bool{"core-data": false, "core-metadata": true}, jwt)
}

func TestPlainHTTPVaultBeyondLoopbackIsWarnedAbout(t *testing.T) {
	var logs strings.Builder
	cfg := &Config{Service: ServiceConfig{Name: "core-data", Port: 59880,
		SecurityOptions: SecurityOptions{KeyVaultAddress: "http://vault.invalid:8200"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.Error(t, err, "vault.invalid does not resolve")
	assert.Contains(t, logs.String(), "plain http on a non-loopback address: Vault's signing keys cross the network unprotected")
}

func TestPlainPeerOnIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	require.NoError(t, err, "IPv6 loopback")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "v6") }))
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"::1", "[::1]"} {
		cfg := &Config{Service: ServiceConfig{Port: 1, SecurityOptions: SecurityOptions{KeyRequireJWT: "false"}},
			Clients: map[string]ClientConfig{"legacy": {Host: host, Port: port, SecurityOptions: SecurityOptions{KeyRequireJWT: "false"}}}}
		svc, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err, host)
		resp, err := svc.HTTPClient().Get(cfg.Clients["legacy"].BaseURL() + "/x")
		require.NoError(t, err, host)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "v6", string(b), host)
		svc.Close()
	}
}
