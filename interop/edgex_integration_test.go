package interop_test

// An unmodified EdgeX 4 service (interop/edgex, go-mod-bootstrap v4.0.5
// with EdgeX's own dependency versions) on a network ztedge provisioned,
// next to a ztedge service, against a real Vault run as EdgeX runs it (no
// api_addr, so JWTs carry iss "/v1/identity/oidc") and a real Ziti
// controller and edge router. Never skipped but under -short.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	os.Exit(code)
}

// jwtTTL is short so that the part after the JWTs expired does not wait long.
const jwtTTL = 15 * time.Second

const topologyYAML = `
vault:
  address: %s
  tokenFile: %s
ziti:
  controller: %s
  caCert: %s
  username: %s
  passwordFile: %s
jwt:
  ttl: %s
output: %s
services:
  - name: core-data        # a ztedge service
  - name: edgex-probe      # an unmodified EdgeX 4 service
    edgex: true
    secrets: true
dial:
  - from: [core-data]
    to: [edgex-probe]
  - from: [edgex-probe]
    to: [core-data]
`

// provision writes the topology for stack st with Vault ev and applies it
// twice, checking the EdgeX changes of the first apply and that the
// second changes nothing.
func provision(t *testing.T, st *stack.State, ev *stacktest.EdgeXVault, out string) *provisioning.Topology {
	t.Helper()
	file := filepath.Join(t.TempDir(), "topology.yaml")
	yaml := fmt.Sprintf(topologyYAML, ev.Address, ev.TokenFile, st.ControllerURL, st.ZitiCAFile,
		st.ZitiUsername, st.ZitiPasswordFile, jwtTTL, out)
	require.NoError(t, os.WriteFile(file, []byte(yaml), 0o600))
	top, err := provisioning.LoadFile(file)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := provisioning.New(ctx, top, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	plan, err := p.Apply(ctx, nil)
	require.NoError(t, err)
	var lines []string
	for _, c := range plan.Changes {
		lines = append(lines, c.String())
	}
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "create vault secrets mount secret (kv version 1, for EdgeX secrets)")
	assert.Contains(t, all, "create edgex token file edgex-probe (file missing)")
	assert.Contains(t, all, "create edgex env file edgex-probe")
	assert.NotContains(t, all, "edgex token file core-data", "core-data is a ztedge service")
	again, err := p.Apply(ctx, nil)
	require.NoError(t, err)
	assert.True(t, again.Empty(), "a second apply changes nothing: %v", again.Changes)
	return top
}

// counts records who asked a ztedge core-data for its reading count.
type counts struct {
	mu      sync.Mutex
	callers []string
}

func (c *counts) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callers) == 0 {
		return ""
	}
	return c.callers[len(c.callers)-1]
}

// coreDataAPI is the part of EdgeX's core-data API the probe's reading
// client calls: GET /api/v3/reading/count, in EdgeX's response format.
func coreDataAPI(c *counts) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/reading/count", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.callers = append(c.callers, caller.Name(r.Context()))
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"apiVersion":"v3","statusCode":200,"count":42}`)
	})
	return caller.Require()(mux)
}

// serve runs a ztedge service in this process until t ends.
func serve(t *testing.T, cfg *zerotrust.Config, h http.Handler) *zerotrust.Service {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	opts := zerotrust.Options{Logger: slog.New(slog.DiscardHandler), RequestTimeout: 15 * time.Second,
		OnServing: func(net.Addr, net.Addr) { close(ready) }}
	svc, err := zerotrust.New(ctx, cfg, opts)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, h) }()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("core-data stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("core-data did not start serving")
	}
	return svc
}

// readEnvFile reads the NAME=value lines provisioning wrote.
func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			env = append(env, line)
		}
	}
	return env
}

// getJSON GETs url with c and decodes a 200 answer into out.
func getJSON(ctx context.Context, c *http.Client, url string, out any) error {
	code, body, err := getStatus(ctx, c, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", url, code, body)
	}
	return json.Unmarshal([]byte(body), out)
}

func TestIntegrationEdgeXServiceOnZtedgeNetwork(t *testing.T) {
	st := stacktest.Shared(t)
	ev := stacktest.StartEdgeXVault(t)
	bin := buildProbe(t)
	out := t.TempDir()
	top := provision(t, st, ev, out)
	tokenFile := provisioning.EdgeXTokenFile(out, "edgex-probe")
	ctx := context.Background()
	root, err := vault.NewClient(vault.Config{Address: ev.Address})
	require.NoError(t, err)
	root.SetToken(ev.Token)

	t.Run("provisioning wrote EdgeX's token file: the service's entity, default policy, renewable", func(t *testing.T) {
		f, err := edgextoken.Read(tokenFile)
		require.NoError(t, err)
		assert.Contains(t, f.Auth.Policies, "default")
		assert.Contains(t, f.Auth.Policies, "ztedge-edgex-probe")
		assert.True(t, f.Auth.Renewable)
		e, err := vault.Read(ctx, root, "identity/entity/name/edgex-probe")
		require.NoError(t, err)
		assert.Equal(t, e["id"], f.Auth.EntityID)
		for path, mode := range map[string]os.FileMode{tokenFile: 0o600, filepath.Dir(tokenFile): 0o700} {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, mode, fi.Mode().Perm(), path)
		}
	})

	// The keeper (what "ztedge edgex token-file -watch" runs) keeps the
	// token file valid from here on.
	keeperCtx, stopKeeper := context.WithCancel(ctx)
	keeperDone := make(chan error, 1)
	keeper := &edgextoken.Keeper{Credentials: credentials.Path(out, "edgex-probe"), Path: tokenFile,
		Interval: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	go func() { keeperDone <- keeper.Run(keeperCtx) }()
	t.Cleanup(func() { stopKeeper(); <-keeperDone })

	seen := &counts{}
	coreData := serve(t, &zerotrust.Config{
		Service: zerotrust.ServiceConfig{Name: "core-data", SecurityOptions: zerotrust.SecurityOptions{
			zerotrust.KeyMode:         "zerotrust",
			zerotrust.KeyController:   st.ControllerURL,
			zerotrust.KeyControllerCA: st.ZitiCAFile,
			zerotrust.KeyCredentials:  credentials.Path(out, "core-data"),
		}},
		Clients: map[string]zerotrust.ClientConfig{"edgex-probe": {SecurityOptions: zerotrust.SecurityOptions{zerotrust.KeyMode: "zerotrust"}}},
	}, coreDataAPI(seen))
	client := coreData.HTTPClient()
	const base = "http://edgex-probe.edgex.ziti"

	// The environment file provisioning wrote, as it is.
	env := readEnvFile(t, provisioning.EdgeXEnvFile(out, "edgex-probe"))
	started := time.Now()
	p := startProbe(t, bin, env)
	p.eventually(t, 90*time.Second, "the EdgeX service answers ping over Ziti", func() error {
		var ping map[string]any
		return getJSON(ctx, client, base+"/api/v3/ping", &ping)
	})

	t.Run("it binds edgex.edgex-probe and opens no port on the host", func(t *testing.T) {
		assert.Contains(t, p.log.String(), "Using OpenZiti service name: edgex.edgex-probe")
		ports, err := netstat.Listening(p.cmd.Process.Pid)
		require.NoError(t, err)
		assert.Empty(t, ports)
	})

	t.Run("a ztedge service calls it and it sees the caller", func(t *testing.T) {
		var got map[string]string
		require.NoError(t, getJSON(ctx, client, base+"/api/v3/probe/caller", &got))
		assert.Equal(t, map[string]string{"caller": "core-data", "via": "ziti"}, got)
	})

	t.Run("it calls a ztedge service through its own EdgeX client, which sees it", func(t *testing.T) {
		var got map[string]any
		require.NoError(t, getJSON(ctx, client, base+"/api/v3/probe/core-data", &got))
		assert.Equal(t, float64(42), got["count"])
		assert.Equal(t, "edgex-probe", seen.last())
	})

	t.Run("it stores and reads its own secrets, on a KV version 1 mount", func(t *testing.T) {
		storeAndReadSecret(t, ctx, client, base, root)
	})

	t.Run("its token reaches no other service's secrets", func(t *testing.T) {
		f, err := edgextoken.Read(tokenFile)
		require.NoError(t, err)
		svc, err := root.Clone()
		require.NoError(t, err)
		svc.SetToken(f.Auth.ClientToken)
		_, err = vault.Write(ctx, svc, "secret/edgex/core-data/db", map[string]any{"password": "x"})
		assert.Equal(t, http.StatusForbidden, vault.StatusOf(err), "%v", err)
		_, err = vault.Read(ctx, svc, "secret/edgex/core-data/db")
		assert.Equal(t, http.StatusForbidden, vault.StatusOf(err), "%v", err)
		_, err = vault.Read(ctx, svc, "identity/oidc/token/core-data")
		assert.Equal(t, http.StatusForbidden, vault.StatusOf(err), "no JWT in another service's name: %v", err)
	})

	t.Run("after its JWTs expired and the controller restarted it still serves", func(t *testing.T) {
		if wait := jwtTTL + 5*time.Second - time.Since(started); wait > 0 {
			time.Sleep(wait) // every JWT it fetched at start has expired
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		require.NoError(t, stacktest.RestartController(rctx, st))
		p.eventually(t, 2*time.Minute, "a ztedge service reaches it again", func() error {
			var got map[string]string
			return getJSON(ctx, client, base+"/api/v3/probe/caller", &got)
		})
		p.eventually(t, 2*time.Minute, "it reaches the ztedge service again", func() error {
			var got map[string]any
			return getJSON(ctx, client, base+"/api/v3/probe/core-data", &got)
		})
	})

	t.Run("its token died while it was down: it restarts with the one the keeper wrote", func(t *testing.T) {
		p.stop()
		dead, err := edgextoken.Read(tokenFile)
		require.NoError(t, err)
		require.NoError(t, edgextoken.Revoke(ctx, root, dead.Auth.ClientToken)) // as if it had expired
		require.Eventually(t, func() bool {
			f, err := edgextoken.Read(tokenFile)
			return err == nil && f.Auth.ClientToken != dead.Auth.ClientToken
		}, 15*time.Second, 100*time.Millisecond, "the keeper replaces the dead token")
		p = startProbe(t, bin, env)
		p.eventually(t, 90*time.Second, "it serves again", func() error {
			var got map[string]string
			return getJSON(ctx, client, base+"/api/v3/probe/caller", &got)
		})
	})
	p.stop()

	t.Run("token mode", func(t *testing.T) {
		tokenMode(t, bin, top, out, seen)
	})

	t.Run("without the keeper, EdgeX cannot restart with a dead token: it asks security-secretstore-setup and exits", func(t *testing.T) {
		stopKeeper()
		require.NoError(t, <-keeperDone)
		keeperDone <- nil // for the cleanup
		f, err := edgextoken.Read(tokenFile)
		require.NoError(t, err)
		require.NoError(t, edgextoken.Revoke(ctx, root, f.Auth.ClientToken))
		dead := startProbe(t, bin, env)
		log := dead.waitExit(t, 60*time.Second)
		assert.Contains(t, log, "invoking secret-store-setup regen token API")
		assert.Error(t, dead.exitErr)
	})
}
