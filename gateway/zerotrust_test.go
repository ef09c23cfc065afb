package gateway

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/provisioning"
)

// zeroTrustConfig is testConfig with core-data as a zerotrust service
// whose forwarder is open on 127.0.0.1:41000.
func zeroTrustConfig(dir string) Config {
	c := testConfig(dir)
	c.Services["core-data"] = "zerotrust:core-data"
	c.Services["app-x"] = "zerotrust:edgex.app-x"
	c.ZitiIdentity = "/etc/ztedge/gateway.json"
	c.OverlayAddrs = map[string]netip.AddrPort{
		"core-data": netip.MustParseAddrPort("127.0.0.1:41000"),
		"app-x":     netip.MustParseAddrPort("[::1]:41001"),
	}
	return c
}

func TestRenderZeroTrustUpstream(t *testing.T) {
	out, err := Render(zeroTrustConfig(t.TempDir()))
	require.NoError(t, err)
	conf := string(out)
	assert.Contains(t, conf, "    upstream ztedge_overlay_core-data {\n        server 127.0.0.1:41000;\n        keepalive 8;\n        keepalive_timeout 60s;\n    }\n")
	assert.Contains(t, conf, "    upstream ztedge_overlay_app-x {\n        server [::1]:41001;\n")
	assert.Less(t, strings.Index(conf, "upstream ztedge_overlay_"), strings.Index(conf, "server {"), "upstream blocks belong in http, before the server")

	route := location(t, conf, "/core-data/")
	for _, want := range []string{
		"auth_request /auth;",
		"proxy_pass http://ztedge_overlay_core-data/;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header Host core-data.edgex.ziti;",
		"proxy_set_header X-Ztedge-Caller $ztedge_caller;",
	} {
		assert.Contains(t, route, want, "route /core-data/")
	}
	assert.NotContains(t, route, "Authorization", "the client's Authorization header must pass on to the service unchanged")
	assert.Contains(t, location(t, conf, "/app-x/"), "proxy_set_header Host app-x.edgex.ziti;", "edgex.app-x's intercept name")

	ping := location(t, conf, "= /core-data/api/v3/ping")
	assert.NotContains(t, ping, "auth_request")
	for _, want := range []string{"proxy_pass http://ztedge_overlay_core-data/api/v3/ping;", `proxy_set_header Authorization "";`, "proxy_http_version 1.1;",
		"proxy_intercept_errors on;", "error_page 403 502 = @ztedge_overlay_unreachable;"} {
		assert.Contains(t, ping, want, "ping route")
	}
	assert.Contains(t, location(t, conf, "@ztedge_overlay_unreachable"), `return 502 "ztedge gateway: the service cannot be reached over the overlay\n";`)
	assert.NotContains(t, location(t, conf, "/core-data/"), "proxy_intercept_errors", "callers with a JWT get the forwarder's reasons")
	// The token-mode route beside it is unchanged.
	assert.Contains(t, location(t, conf, "/core-metadata/"), "proxy_pass http://127.0.0.1:59881/base/;")
	assert.NotContains(t, location(t, conf, "/core-metadata/"), "proxy_http_version")
}

func TestRenderBeforeTheForwarderIsOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := zeroTrustConfig(filepath.Join(dir, "gw"))
	cfg.OverlayAddrs = nil
	out, err := Render(cfg)
	require.NoError(t, err, "render is for reading: it works before the forwarder is open")
	assert.Contains(t, string(out), "# The port is picked when \"ztedge gateway run\" opens the forwarder.\n        server 127.0.0.1:0;")
	_, err = Prepare(cfg)
	require.ErrorContains(t, err, `services.app-x and services.core-data are reached over the Ziti overlay, through the gateway's forwarder, which is not open: run the gateway with "ztedge gateway run"`)
	_, err = os.Stat(filepath.Join(dir, "gw"))
	assert.ErrorIs(t, err, os.ErrNotExist, "Prepare wrote files for a configuration it refused")
}

func TestValidateZeroTrust(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no identity", func(c *Config) { c.ZitiIdentity = "" },
			`zitiIdentity is empty, but services.app-x and services.core-data are reached over the Ziti overlay (zerotrust:...): set it to the gateway's own enrolled identity file`},
		{"relative identity", func(c *Config) { c.ZitiIdentity = "gateway.json" }, `zitiIdentity "gateway.json" must be an absolute path`},
		{"no service name", func(c *Config) { c.Services["core-data"] = "zerotrust:" }, `services.core-data: "zerotrust:" names no Ziti service: write zerotrust:<service>, e.g. zerotrust:core-data`},
		{"prefix alone", func(c *Config) { c.Services["core-data"] = "zerotrust:edgex" }, `services.core-data: "zerotrust:edgex" names no Ziti service`},
		{"injection", func(c *Config) { c.Services["core-data"] = "zerotrust:core-data;return 200" }, `services.core-data: "zerotrust:core-data;return 200" names no Ziti service`},
		{"bare zerotrust", func(c *Config) { c.Services["core-data"] = "zerotrust" }, `services.core-data: upstream "zerotrust": write zerotrust:<service>, e.g. zerotrust:core-data`},
		{"other scheme", func(c *Config) { c.Services["core-data"] = "ziti:core-data" }, `must be an http:// or https:// URL, or zerotrust:<service> for a service in zerotrust mode`},
		{"forwarder on every interface", func(c *Config) { c.OverlayAddrs["core-data"] = netip.MustParseAddrPort("0.0.0.0:41000") },
			"overlay address 0.0.0.0:41000 for core-data: must be a loopback address with a port"},
		{"forwarder on a LAN address", func(c *Config) { c.OverlayAddrs["core-data"] = netip.MustParseAddrPort("192.168.1.5:41000") }, "must be a loopback address"},
		{"forwarder without port", func(c *Config) { c.OverlayAddrs["core-data"] = netip.MustParseAddrPort("127.0.0.1:0") }, "must be a loopback address with a port"},
		{"forwarder for a token-mode service", func(c *Config) { c.OverlayAddrs["core-metadata"] = netip.MustParseAddrPort("127.0.0.1:41002") },
			`overlay address for "core-metadata": no such zerotrust service in services`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := zeroTrustConfig("/srv/gw")
			tc.edit(&c)
			_, err := Render(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadConfigZeroTrust(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`stateDir: state
zitiIdentity: clients/gateway.json
services:
  core-data: zerotrust:core-data
  core-metadata: http://127.0.0.1:59881
`), 0o600))
	c, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "clients", "gateway.json"), c.ZitiIdentity, "zitiIdentity relative to the file")
	assert.Equal(t, []OverlayUpstream{{Route: "core-data", Service: "core-data"}}, c.OverlayUpstreams())
}

func TestExampleTopologyWithTheGatewayIsTheExampleTopologyPlusTheGateway(t *testing.T) {
	plain, err := provisioning.LoadDeclarations("../examples/topology.yaml")
	require.NoError(t, err)
	withGateway, err := provisioning.LoadDeclarations("../examples/topology-gateway.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, withGateway.Clients)
	require.NotEmpty(t, withGateway.Dial)
	assert.Equal(t, provisioning.Client{Name: "gateway"}, withGateway.Clients[len(withGateway.Clients)-1])
	assert.Equal(t, provisioning.DialRule{From: []string{"gateway"}, To: []string{"group:core"}}, withGateway.Dial[len(withGateway.Dial)-1])
	withGateway.Clients = withGateway.Clients[:len(withGateway.Clients)-1]
	withGateway.Dial = withGateway.Dial[:len(withGateway.Dial)-1]
	assert.Equal(t, plain, withGateway, "topology-gateway.yaml is no longer topology.yaml plus the gateway")
}

func TestExampleZeroTrustGatewayConfig(t *testing.T) {
	c, err := LoadConfig("../examples/gateway-zerotrust.yaml")
	require.NoError(t, err)
	home, _ := os.UserHomeDir()
	assert.Equal(t, filepath.Join(home, ".local/state/ztedge/stack/provisioned/clients/gateway.json"), c.ZitiIdentity)
	assert.Len(t, c.OverlayUpstreams(), 3)
}
