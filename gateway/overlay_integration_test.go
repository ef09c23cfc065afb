package gateway_test

// Integration test of the gateway in front of a service in zerotrust mode
// (gateway/overlay): a real NGINX, the real proxy-auth, the core-data
// example as its own process, and the shared stack's Vault, Ziti
// controller and edge router. It never skips.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/gateway/overlay"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/provisioning"
)

// startZeroTrustCoreData builds and runs the core-data example in
// zerotrust mode, requiring JWTs and trusting the Ziti identity relay to
// forward them, until the test ends. It returns its process id and health
// port once it is bound.
func startZeroTrustCoreData(t *testing.T, st *stack.State, top *provisioning.Topology, relay string, writers ...string) (int, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "core-data")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ztedge/ztedge/examples/core-data").CombinedOutput()
	require.NoError(t, err, "building core-data: %s", out)
	health := gateway.FreePort(t)
	_, port, _ := net.SplitHostPort(health)
	cmd := exec.Command(bin, "-config", "../examples/core-data/configuration.yaml", "-writers", strings.Join(writers, ","))
	cmd.Env = append(os.Environ(),
		"SERVICE_HEALTHPORT="+port,
		"SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER="+st.ControllerURL,
		"SERVICE_SECURITYOPTIONS_OPENZITICAFILE="+st.ZitiCAFile,
		"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE="+credentials.Path(top.Output, "core-data"),
		"SERVICE_SECURITYOPTIONS_REQUIREJWT=true",
		"SERVICE_SECURITYOPTIONS_TRUSTEDRELAYS="+relay,
	)
	// ?ready answers 200 once the service is bound with a valid JWT.
	gateway.StartUntilReady(t, "core-data", cmd, "http://"+health+"/api/v3/ping?ready", time.Minute)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return cmd.Process.Pid, n
}

// call sends a request with an optional bearer token and returns the
// status and body.
func call(t *testing.T, c *http.Client, method, url, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func TestIntegrationGatewayOverZeroTrust(t *testing.T) {
	st := stacktest.Shared(t)
	// The gateway's own identity may dial the core services (core-metadata
	// does not run here), and not device-virtual.
	top := topotest.Provision(t, st, "../examples/topology-gateway.yaml", nil)
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	root, err := st.VaultToken()
	require.NoError(t, err)
	vc, err := provisioning.NewVaultClient(ctx, st.VaultAddress, root, "the stack's root token", "")
	require.NoError(t, err)
	users, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: top.Vault.Key, Audience: top.JWT.Audience})
	require.NoError(t, err)
	user, err := users.Add(ctx, "alice-gw")
	require.NoError(t, err)
	t.Cleanup(func() { _ = users.Remove(context.Background(), "alice-gw") })
	alice := gateway.VaultJWT(t, st.VaultAddress, user, user.Password)

	pid, healthPort := startZeroTrustCoreData(t, st, top, "gateway", "alice-gw")
	authURL := gateway.StartProxyAuth(t, gateway.BuildProxyAuth(t), "-vault", st.VaultAddress, "-audience", top.JWT.Audience)
	started := time.Now()
	g, err := overlay.Start(ctx, gateway.Config{
		Listen:       gateway.FreePort(t),
		StateDir:     filepath.Join(t.TempDir(), "gateway"),
		AuthURL:      authURL,
		ZitiIdentity: credentials.IdentityPath(top.Output, "gateway"),
		Services: map[string]string{
			"core-data":      "zerotrust:core-data",
			"core-metadata":  "zerotrust:core-metadata",
			"device-virtual": "zerotrust:device-virtual",
		},
	}, logger)
	require.NoError(t, err, "starting the gateway")
	t.Logf("gateway with its overlay forwarder started in %s", time.Since(started).Round(time.Millisecond))
	t.Cleanup(func() { assert.NoError(t, g.Stop(), "stopping the gateway") })
	client := gateway.GatewayClient(t, g.Config.CertFile)
	base := "https://" + g.Addr

	t.Run("the forwarder listens on loopback only, as the gateway's identity", func(t *testing.T) {
		assert.Equal(t, "gateway", g.Identity)
		require.Len(t, g.Routes, 3)
		dialable := map[string]bool{}
		for _, r := range g.Routes {
			assert.True(t, r.Addr.Addr().IsLoopback(), "%s listens on %s", r.Route, r.Addr)
			assert.Equal(t, g.Config.OverlayAddrs[r.Route], r.Addr, "nginx's upstream for %s", r.Route)
			assert.Equal(t, "edgex."+r.Route, r.Service)
			dialable[r.Route] = r.Dialable
		}
		assert.Equal(t, map[string]bool{"core-data": true, "core-metadata": true, "device-virtual": false}, dialable)
		conf, err := os.ReadFile(g.Config.ConfigFile())
		require.NoError(t, err)
		assert.Contains(t, string(conf), fmt.Sprintf("server %s;", g.Config.OverlayAddrs["core-data"]))
	})

	t.Run("a user's JWT reaches core-data, which records the user and the gateway as relay", func(t *testing.T) {
		code, body := call(t, client, "POST", base+"/core-data/api/v3/reading", alice,
			map[string]any{"device": "thermometer", "resource": "temperature", "value": 21.5})
		require.Equal(t, http.StatusCreated, code, "%s", body)
		code, body = call(t, client, "GET", base+"/core-data/api/v3/reading", alice, nil)
		require.Equal(t, http.StatusOK, code, "%s", body)
		var readings []struct {
			Device, Sender, Relay string
		}
		require.NoError(t, json.Unmarshal([]byte(body), &readings), "%s", body)
		require.NotEmpty(t, readings)
		last := readings[len(readings)-1]
		assert.Equal(t, "thermometer", last.Device)
		assert.Equal(t, "alice-gw", last.Sender, "the caller is the JWT's name")
		assert.Equal(t, "gateway", last.Relay, "the gateway's Ziti identity is the relay")
	})

	t.Run("no token is 401 at the gateway", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/core-data/api/v3/reading", nil)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, `Bearer realm="ztedge"`, resp.Header.Get("WWW-Authenticate"))
		code, _ := call(t, client, "GET", base+"/core-data/api/v3/reading", "not-a-jwt", nil)
		assert.Equal(t, http.StatusUnauthorized, code, "a bad token")
	})

	t.Run("core-data authorizes on the JWT's name, not on the gateway's identity", func(t *testing.T) {
		other := stacktest.ServiceJWT(t, top.Output, "app-rules-engine")
		code, body := call(t, client, "POST", base+"/core-data/api/v3/reading", other,
			map[string]any{"device": "d", "resource": "r", "value": 1})
		assert.Equal(t, http.StatusForbidden, code, "app-rules-engine may not write readings: %s", body)
		assert.Contains(t, body, "caller not allowed")
	})

	t.Run("ping needs no token, over the overlay", func(t *testing.T) {
		code, body := call(t, client, "GET", base+"/core-data/api/v3/ping", "", nil)
		assert.Equal(t, http.StatusOK, code, "%s", body)
		assert.Contains(t, body, `"serviceName":"core-data"`)
	})

	t.Run("a service the gateway may not dial is 403 with the reason", func(t *testing.T) {
		code, body := call(t, client, "GET", base+"/device-virtual/api/v3/device", alice, nil)
		assert.Equal(t, http.StatusForbidden, code)
		assert.Equal(t, `ztedge tunnel: identity "gateway" may not dial the ziti service "edgex.device-virtual": `+
			"the controller lists no such service for it (no Dial policy allows it, or the service does not exist)\n", body)
	})

	t.Run("a service nothing hosts is 502 with the reason", func(t *testing.T) {
		code, body := call(t, client, "GET", base+"/core-metadata/api/v3/device", alice, nil)
		assert.Equal(t, http.StatusBadGateway, code)
		assert.Equal(t, `ztedge tunnel: ziti service "edgex.core-metadata": nothing hosts the service right now (is it running?)`+"\n", body)
	})

	t.Run("without a JWT, a ping says only that the service is unreachable", func(t *testing.T) {
		for _, route := range []string{"device-virtual", "core-metadata"} {
			code, body := call(t, client, "GET", base+"/"+route+"/api/v3/ping", "", nil)
			assert.Equal(t, http.StatusBadGateway, code, route)
			assert.Equal(t, "ztedge gateway: the service cannot be reached over the overlay\n", body, route)
		}
	})

	t.Run("core-data still listens on no port but its health port", func(t *testing.T) {
		ports, err := netstat.Listening(pid)
		require.NoError(t, err)
		assert.Equal(t, []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(healthPort))}, ports)
	})

	t.Run("behind the gateway, core-data checks the JWT itself", func(t *testing.T) {
		// Anyone on the gateway's host can connect to the forwarder and act
		// as the gateway's identity: core-data still wants a valid JWT.
		direct := "http://" + g.Config.OverlayAddrs["core-data"].String() + "/api/v3/reading"
		code, _ := call(t, http.DefaultClient, "GET", direct, "", nil)
		assert.Equal(t, http.StatusUnauthorized, code, "through the forwarder without a JWT")
		code, _ = call(t, http.DefaultClient, "GET", direct, "not-a-jwt", nil)
		assert.Equal(t, http.StatusUnauthorized, code, "through the forwarder with a bad JWT")
	})

	t.Run("kept-alive connections make repeated requests cheap", func(t *testing.T) {
		const n = 50
		start := time.Now()
		for range n {
			code, body := call(t, client, "GET", base+"/core-data/api/v3/reading", alice, nil)
			require.Equal(t, http.StatusOK, code, "%s", body)
		}
		t.Logf("%d requests through the gateway and the overlay: %s each", n, (time.Since(start) / n).Round(10*time.Microsecond))
	})

	t.Run("stopping the gateway closes the forwarder", func(t *testing.T) {
		require.NoError(t, g.Stop())
		for _, r := range g.Routes {
			_, err := net.DialTimeout("tcp", r.Addr.String(), time.Second)
			assert.Error(t, err, "the forwarder for %s still accepts connections", r.Route)
		}
		_, err := net.DialTimeout("tcp", g.Addr, time.Second)
		assert.Error(t, err, "the gateway port still answers")
	})
}
