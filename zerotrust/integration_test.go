package zerotrust_test

// Integration tests of the zero-trust runtime against a real Vault and a
// real Ziti controller and edge router. They never skip.

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
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/transport"
	"github.com/ztedge/ztedge/zerotrust"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	if benchOutput != "" {
		_ = os.RemoveAll(benchOutput)
	}
	os.Exit(code)
}

const topologyFile = "../examples/topology.yaml"

// zeroTrustConfig is the configuration of service name in zerotrust mode
// against stack st, calling the given peers over Ziti.
func zeroTrustConfig(t testing.TB, st *stack.State, top *provisioning.Topology, name string, peers ...string) *zerotrust.Config {
	t.Helper()
	cfg := &zerotrust.Config{
		Service: zerotrust.ServiceConfig{Name: name, SecurityOptions: zerotrust.SecurityOptions{
			zerotrust.KeyMode:         "zerotrust",
			zerotrust.KeyController:   st.ControllerURL,
			zerotrust.KeyControllerCA: st.ZitiCAFile,
			zerotrust.KeyCredentials:  credentials.Path(top.Output, name),
		}},
		Clients: map[string]zerotrust.ClientConfig{},
	}
	for _, p := range peers {
		cfg.Clients[p] = zerotrust.ClientConfig{SecurityOptions: zerotrust.SecurityOptions{zerotrust.KeyMode: "zerotrust"}}
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startService starts a service in this process (without serving).
func startService(t testing.TB, cfg *zerotrust.Config) *zerotrust.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: quietLogger(), RequestTimeout: 15 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	return svc
}

// serve serves h on svc until the test ends, waiting until it accepts requests.
func serve(t testing.TB, cfg *zerotrust.Config, h http.Handler) {
	t.Helper()
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := zerotrust.Options{Logger: quietLogger(), OnServing: func(net.Addr, net.Addr) { close(ready) }}
	s, err := zerotrust.New(ctx, cfg, opts)
	require.NoError(t, err)
	go func() { done <- s.Serve(ctx, h) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the service did not bind")
	}
}

// withoutJWT is a client that reaches svc's peers the way svc does, over
// its overlay, but sends no JWT.
func withoutJWT(svc *zerotrust.Service) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: svc.Dial}}
}

// buildExample compiles an example service into a temporary folder.
func buildExample(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ztedge/ztedge/examples/"+name).CombinedOutput()
	require.NoError(t, err, "building %s: %s", name, out)
	return bin
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serviceProcess is an example service running as its own process.
type serviceProcess struct {
	cmd        *exec.Cmd
	log        *stacktest.Buffer
	healthPort int
	exited     chan struct{}
	exitErr    error
}

func (p *serviceProcess) Log() string { return p.log.String() }

// startCoreData runs the core-data example in zerotrust mode, configured
// through environment variables the EdgeX way.
func startCoreData(t testing.TB, bin string, st *stack.State, top *provisioning.Topology, extraEnv ...string) *serviceProcess {
	t.Helper()
	p := &serviceProcess{log: &stacktest.Buffer{}, healthPort: freePort(t), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "-config", "../examples/core-data/configuration.yaml", "-writers", "device-virtual")
	p.cmd.Env = append(os.Environ(),
		"SERVICE_HEALTHPORT="+fmt.Sprint(p.healthPort),
		"SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER="+st.ControllerURL,
		"SERVICE_SECURITYOPTIONS_OPENZITICAFILE="+st.ZitiCAFile,
		"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE="+credentials.Path(top.Output, "core-data"),
	)
	p.cmd.Env = append(p.cmd.Env, extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	})
	return p
}

// waitPing waits until the service's underlay ping answers.
func (p *serviceProcess) waitPing(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("service exited: %v\n%s", p.exitErr, p.Log())
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p.healthPort, zerotrust.DefaultPingPath))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(p.Log(), "serving the API") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("service did not come up:\n%s", p.Log())
}

type reading struct {
	Device, Resource, Sender string
	Value                    float64
}

func postReading(ctx context.Context, c *http.Client, value float64) (int, error) {
	body, _ := json.Marshal(map[string]any{"device": "dev-1", "resource": "Temperature", "value": value})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://core-data.edgex.ziti:80/api/v3/reading", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func getReadings(t testing.TB, c *http.Client) []reading {
	t.Helper()
	resp, err := c.Get("http://core-data.edgex.ziti:80/api/v3/reading")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rs []reading
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rs))
	return rs
}

func TestIntegrationZeroTrustService(t *testing.T) {
	st := stacktest.Shared(t)
	// 30-second JWTs, so the token-expiry part below does not take long.
	top := topotest.Provision(t, st, topologyFile, func(top *provisioning.Topology) {
		top.JWT.TTL = provisioning.Duration(30 * time.Second)
	})
	coreData := startCoreData(t, buildExample(t, "core-data"), st, top)
	coreData.waitPing(t)

	t.Run("no API port on the host, only the ping port", func(t *testing.T) {
		ports, err := netstat.Listening(coreData.cmd.Process.Pid)
		require.NoError(t, err)
		assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", coreData.healthPort))}, ports)
	})

	t.Run("the underlay answers ping and nothing else", func(t *testing.T) {
		base := fmt.Sprintf("http://127.0.0.1:%d", coreData.healthPort)
		resp, err := http.Get(base + zerotrust.DefaultPingPath)
		require.NoError(t, err)
		var ping map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ping))
		resp.Body.Close()
		assert.Equal(t, "core-data", ping["serviceName"])
		resp, err = http.Head(base + zerotrust.DefaultPingPath)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		resp, err = http.Post(base+zerotrust.DefaultPingPath, "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		for _, path := range []string{"/api/v3/reading", "/", "/api/v3/ping/x"} {
			resp, err = http.Get(base + path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		}
	})

	deviceStarted := time.Now() // its first JWT is fetched now and lives 30 s
	device := startService(t, zeroTrustConfig(t, st, top, "device-virtual", "core-data"))
	deviceClient := device.HTTPClient()

	t.Run("a call over Ziti works and the callee sees the caller", func(t *testing.T) {
		code, err := postReading(context.Background(), deviceClient, 21.5)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code)
		rs := getReadings(t, deviceClient)
		require.NotEmpty(t, rs)
		assert.Equal(t, "device-virtual", rs[len(rs)-1].Sender)
	})

	t.Run("a per-route caller list is enforced", func(t *testing.T) {
		app := startService(t, zeroTrustConfig(t, st, top, "app-rules-engine", "core-data"))
		appClient := app.HTTPClient()
		code, err := postReading(context.Background(), appClient, 1)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, code, "only device-virtual may post readings")
		assert.NotEmpty(t, getReadings(t, appClient), "but the app may read them")
	})

	t.Run("an identity without a Dial rule is refused", func(t *testing.T) {
		md := startService(t, zeroTrustConfig(t, st, top, "core-metadata", "core-data"))
		_, err := postReading(context.Background(), md.HTTPClient(), 1)
		require.Error(t, err)
	})

	t.Run("hosts that are not configured clients are refused", func(t *testing.T) {
		_, err := deviceClient.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v3/ping", coreData.healthPort))
		require.ErrorIs(t, err, transport.ErrUnknownHost)
	})

	t.Run("keeps serving after its JWTs expired and the controller restarted", func(t *testing.T) {
		// The JWT source may renew in the background while we wait, so
		// count from before the first JWT expired.
		fetches := zerotrust.Fetches(device)
		if wait := 35*time.Second - time.Since(deviceStarted); wait > 0 {
			time.Sleep(wait) // every JWT fetched so far has expired
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		require.NoError(t, stacktest.RestartController(ctx, st))

		// Full re-authentication now needs a fresh JWT: the first has expired.
		require.NoError(t, zerotrust.Reauthenticate(ctx, device))
		assert.Greater(t, zerotrust.Fetches(device), fetches, "a fresh JWT was fetched after the first expired; the restarted controller accepted it")

		var lastErr error
		var code int
		for ctx.Err() == nil {
			code, lastErr = postReading(ctx, deviceClient, 22.5)
			if lastErr == nil && code == http.StatusCreated {
				break
			}
			time.Sleep(time.Second)
		}
		require.NoError(t, lastErr, "core-data log:\n%s", coreData.Log())
		require.Equal(t, http.StatusCreated, code)
		rs := getReadings(t, deviceClient)
		assert.Equal(t, 22.5, rs[len(rs)-1].Value)
	})
}

func TestIntegrationBadConfigurationRefusesToStart(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, nil)
	bin := buildExample(t, "core-data")
	cases := map[string]struct {
		env  []string
		want string
	}{
		"unknown mode":        {[]string{"SERVICE_SECURITYOPTIONS_MODE=zerotrst"}, `unknown mode "zerotrst"`},
		"missing credentials": {[]string{"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE="}, "VaultCredentialsFile: missing"},
		"credentials file gone": {[]string{"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE=" + filepath.Join(t.TempDir(), "none.json")},
			"no such file"},
		"another service's credentials": {[]string{"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE=" + credentials.Path(top.Output, "core-metadata")},
			`the credentials are for "core-metadata"`},
		"controller unreachable": {[]string{fmt.Sprintf("SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER=127.0.0.1:%d", freePort(t))},
			"ziti controller"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startCoreData(t, bin, st, top, tc.env...)
			select {
			case <-p.exited:
				require.Error(t, p.exitErr, "a misconfigured zerotrust service must refuse to start")
				assert.Contains(t, p.Log(), tc.want)
				assert.NotContains(t, p.Log(), "serving the API")
			case <-time.After(90 * time.Second):
				t.Fatalf("the service did not refuse to start:\n%s", p.Log())
			}
		})
	}
}

// plainConfig is the configuration of service name in plain, token-based
// mode against stack st, calling core-data at coreDataAddr over TCP.
func plainConfig(t testing.TB, top *provisioning.Topology, name string, coreDataPort int) *zerotrust.Config {
	t.Helper()
	cfg := &zerotrust.Config{
		Service: zerotrust.ServiceConfig{Name: name, Port: freePort(t), SecurityOptions: zerotrust.SecurityOptions{
			zerotrust.KeyCredentials: credentials.Path(top.Output, name),
		}},
		Clients: map[string]zerotrust.ClientConfig{"core-data": {Host: "127.0.0.1", Port: coreDataPort}},
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestIntegrationTokenBasedMode(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, nil)
	apiPort := freePort(t)
	coreData := startCoreData(t, buildExample(t, "core-data"), st, top,
		"SERVICE_SECURITYOPTIONS_MODE=", fmt.Sprintf("SERVICE_PORT=%d", apiPort))
	coreData.waitPing(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", apiPort)

	t.Run("every route but ping needs a JWT", func(t *testing.T) {
		resp, err := http.Get(base + "/api/v3/reading")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, `Bearer realm="ztedge"`, resp.Header.Get("WWW-Authenticate"))

		req, _ := http.NewRequest(http.MethodGet, base+"/api/v3/reading", nil)
		req.Header.Set("Authorization", "Bearer not.a.jwt")
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

		resp, err = http.Get(base + zerotrust.DefaultPingPath)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("service-to-service calls carry the caller's own JWT", func(t *testing.T) {
		device := startService(t, plainConfig(t, top, "device-virtual", apiPort))
		client := device.HTTPClient()
		body, _ := json.Marshal(map[string]any{"device": "dev-1", "resource": "Temperature", "value": 30.5})
		resp, err := client.Post(base+"/api/v3/reading", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)

		resp, err = client.Get(base + "/api/v3/reading")
		require.NoError(t, err)
		var rs []reading
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rs))
		resp.Body.Close()
		require.NotEmpty(t, rs)
		assert.Equal(t, "device-virtual", rs[len(rs)-1].Sender, "the caller comes from the JWT's name claim")

		app := startService(t, plainConfig(t, top, "app-rules-engine", apiPort))
		appClient := app.HTTPClient()
		resp, err = appClient.Post(base+"/api/v3/reading", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the per-route caller list applies to JWT callers too")
	})
}

func TestIntegrationZeroTrustWithJWTsAsWell(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, nil)
	// core-data in zerotrust mode that also requires a JWT on every route,
	// and trusts app-rules-engine as a relay (as a gateway would be).
	cfg := zeroTrustConfig(t, st, top, "core-data")
	cfg.Service.SecurityOptions[zerotrust.KeyRequireJWT] = "true"
	cfg.Service.SecurityOptions[zerotrust.KeyTrustedRelays] = "app-rules-engine"
	require.NoError(t, cfg.Validate())
	serve(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, _ := caller.From(r.Context())
		fmt.Fprintf(w, "%s %s %v %s", who.Name, who.Source, who.Verified, who.Relay)
	}))
	whoami := func(c *http.Client, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://core-data.edgex.ziti/whoami", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// device-virtual knows core-data requires JWTs, so it sends its own.
	devCfg := zeroTrustConfig(t, st, top, "device-virtual", "core-data")
	devCfg.Clients["core-data"].SecurityOptions[zerotrust.KeyRequireJWT] = "true"
	device := startService(t, devCfg)
	t.Run("a peer's own JWT passes and names it, verified", func(t *testing.T) {
		code, body := whoami(device.HTTPClient(), "")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "device-virtual jwt true ", body)
	})
	t.Run("a permitted Ziti identity without a JWT is refused", func(t *testing.T) {
		code, _ := whoami(withoutJWT(device), "")
		assert.Equal(t, http.StatusUnauthorized, code)
		// A caller not told that core-data requires JWTs sends none.
		plainCaller := startService(t, zeroTrustConfig(t, st, top, "app-rules-engine", "core-data"))
		code, _ = whoami(plainCaller.HTTPClient(), "")
		assert.Equal(t, http.StatusUnauthorized, code)
	})
	t.Run("a permitted peer holding another service's JWT is refused", func(t *testing.T) {
		stolen := stacktest.ServiceJWT(t, top.Output, "app-rules-engine")
		code, _ := whoami(withoutJWT(device), stolen)
		assert.Equal(t, http.StatusUnauthorized, code, "device-virtual replays app-rules-engine's token")
	})
	t.Run("a trusted relay may forward another identity's JWT", func(t *testing.T) {
		relay := startService(t, zeroTrustConfig(t, st, top, "app-rules-engine", "core-data"))
		userToken := stacktest.ServiceJWT(t, top.Output, "device-virtual")
		code, body := whoami(withoutJWT(relay), userToken)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "device-virtual jwt true app-rules-engine", body)
	})
}

func TestIntegrationMetricsAndReadiness(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, nil)
	cfg := zeroTrustConfig(t, st, top, "core-data")
	cfg.Service.HealthPort = freePort(t)
	cfg.Service.MetricsPath = "/metrics"
	require.NoError(t, cfg.Validate())
	serve(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	health := fmt.Sprintf("http://127.0.0.1:%d", cfg.Service.HealthPort)
	scrape := func() string {
		resp, err := http.Get(health + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	t.Run("ready once bound with a valid JWT", func(t *testing.T) {
		resp, err := http.Get(health + zerotrust.DefaultPingPath + "?ready")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		assert.Contains(t, string(body), `"ready":true`)
	})

	device := startService(t, zeroTrustConfig(t, st, top, "device-virtual", "core-data"))
	for range 3 {
		resp, err := device.HTTPClient().Get("http://core-data.edgex.ziti/")
		require.NoError(t, err)
		resp.Body.Close()
	}
	t.Run("the scrape shows identity, bind and JWT state", func(t *testing.T) {
		m := scrape()
		assert.Contains(t, m, `ztedge_bind_established{service="core-data"} 1`)
		assert.Contains(t, m, `ztedge_overlay_authentications_total{result="ok",service="core-data"}`)
		assert.Contains(t, m, `ztedge_vault_operations_total{operation="login",result="ok",service="core-data"} 1`)
		assert.Contains(t, m, `ztedge_vault_operations_total{operation="jwt",result="ok",service="core-data"}`)
		assert.Regexp(t, `ztedge_jwt_expiry_seconds\{service="core-data"\} [1-9]`, m)
		assert.NotContains(t, m, "eyJ", "no token in the metrics")
	})
	t.Run("the caller's metrics count dials and requests per peer", func(t *testing.T) {
		var sb strings.Builder
		require.NoError(t, zerotrust.WriteMetrics(device, &sb))
		m := sb.String()
		assert.Contains(t, m, `ztedge_peer_dials_total{peer="core-data",result="ok",service="device-virtual"} 1`)
		assert.Contains(t, m, `ztedge_peer_requests_total{code="2xx",peer="core-data",service="device-virtual"} 3`)
		assert.Contains(t, m, `ztedge_peer_request_seconds_count{peer="core-data",service="device-virtual"} 3`)
	})
	t.Run("metrics are only on the health port's metrics path", func(t *testing.T) {
		resp, err := http.Get(health + "/metrics/")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		resp, err = device.HTTPClient().Get("http://core-data.edgex.ziti/metrics")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "ok", string(b), "the API is the handler's, not the metrics")
	})
}
