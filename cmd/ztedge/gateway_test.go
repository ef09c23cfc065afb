package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/gateway/overlay"
)

func TestGatewayCommandZeroTrust(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(file, []byte("stateDir: state\nzitiIdentity: clients/gateway.json\nservices:\n  core-data: zerotrust:core-data\n"), 0o600))

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"gateway", "render", "-config", file}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "upstream ztedge_overlay_core-data {")
	assert.Contains(t, stdout.String(), "proxy_pass http://ztedge_overlay_core-data/;")

	// run: the identity file does not exist; nothing is started or written.
	stdout.Reset()
	err := run(t.Context(), []string{"gateway", "run", "-config", file}, &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err, &stderr))
	assert.Contains(t, err.Error(), "gateway overlay: zitiIdentity: tunnel: ziti identity file "+filepath.Join(dir, "clients", "gateway.json"))
	assert.Contains(t, err.Error(), "add a client such as \"gateway\" to the topology")
	assert.NoDirExists(t, filepath.Join(dir, "state"), "the state folder was made before the overlay opened")

	// A zerotrust service without the gateway's identity names the field.
	require.NoError(t, os.WriteFile(file, []byte("stateDir: state\nservices:\n  core-data: zerotrust:core-data\n"), 0o600))
	err = run(t.Context(), []string{"gateway", "render", "-config", file}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zitiIdentity is empty, but services.core-data is reached over the Ziti overlay")
}

func TestPrintGateway(t *testing.T) {
	cfg := gateway.Config{Listen: "127.0.0.1:8443", StateDir: "/srv/gw", ZitiIdentity: "/srv/clients/gateway.json",
		Services: map[string]string{"core-data": "zerotrust:core-data", "device-virtual": "zerotrust:device-virtual"}}
	cfg.SetDefaults()
	g := &overlay.Gateway{
		Process:  &gateway.Process{Config: cfg, Addr: cfg.Listen, PID: 4242},
		Identity: "gateway",
		Routes: []overlay.Route{
			{Route: "core-data", Service: "edgex.core-data", Addr: netip.MustParseAddrPort("127.0.0.1:41000"), Dialable: true},
			{Route: "device-virtual", Service: "edgex.device-virtual", Addr: netip.MustParseAddrPort("127.0.0.1:41001")},
		},
	}
	var out bytes.Buffer
	printGateway(&out, g)
	assert.Equal(t, `Gateway on https://127.0.0.1:8443 (nginx pid 4242); configuration /srv/gw/nginx.conf, logs in /srv/gw/logs/error.log.
Self-signed certificate: /srv/gw/tls/gateway.crt (curl --cacert /srv/gw/tls/gateway.crt ...)
Zerotrust services, over the Ziti overlay as identity "gateway" (/srv/clients/gateway.json), through loopback only:
  /core-data/      -> 127.0.0.1:41000 -> edgex.core-data
  /device-virtual/ -> 127.0.0.1:41001 -> edgex.device-virtual   refused (403) until a Dial policy allows it
`, out.String())
}
