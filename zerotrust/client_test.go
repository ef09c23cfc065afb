package zerotrust

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	client := &http.Client{Transport: &timeoutTransport{timeout: time.Second,
		rt: &jwtWhereRequired{without: tr, with: jwtauth.BearerTransport(tr, tokens), peers: jwtPeers(cfg)}}}
	get := func(u string) string {
		resp, err := client.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	assert.Equal(t, "Bearer service-jwt", get(tokenPeer.URL))
	assert.Equal(t, "", get(otherPeer.URL), "a peer that does not require JWTs never sees the service's")
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
	assert.Equal(t, map[string]bool{"core-metadata.edgex.ziti:80": true}, jwtPeers(cfg))
}
