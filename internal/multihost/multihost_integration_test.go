//go:build linux

package multihost_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/testprog"
	"github.com/ztedge/ztedge/internal/toolchain"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("MULTIHOST_SDK"); mode != "" {
		if code, ok := testprog.Main(mode, os.Args[1:]); ok {
			os.Exit(code)
		}
		if code, ok := benchHelper(mode, os.Args[1:]); ok {
			os.Exit(code)
		}
		os.Exit(sdkHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// startSDK runs this test binary as an SDK program on h (see sdkHelper).
func startSDK(t *testing.T, h *testhosts.Host, label, mode, identity, service string) (*testhosts.Process, func()) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := h.Command(context.Background(), self, identity, service)
	cmd.Env = append(cmd.Env, "MULTIHOST_SDK="+mode)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p, err := h.Start(label, cmd)
	require.NoError(t, err)
	return p, func() { stdin.Close() }
}

// waitLog waits until p's log has a line containing want and returns it.
func waitLog(t testing.TB, p *testhosts.Process, want string, timeout time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		data, _ := os.ReadFile(p.Log)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, want) {
				return line
			}
		}
		require.True(t, p.Running(), "%s exited (%v) before logging %q; %s", p.Label, p.Err(), want, p.LogTail(30))
		time.Sleep(100 * time.Millisecond)
	}
	require.FailNow(t, "no such log line", "%s did not log %q within %s; %s", p.Label, want, timeout, p.LogTail(30))
	return ""
}

// cli runs a ziti CLI command on the hub and fails the test on error.
func cli(t testing.TB, hub *multihost.Hub, args ...string) string {
	t.Helper()
	out, err := hub.CLI(t.Context(), args...)
	require.NoError(t, err)
	return out
}

func TestIntegrationTwoNodes(t *testing.T) {
	stacktest.Integration(t)
	ctx := t.Context()
	tools, err := toolchain.EnsureAll(ctx, os.Stderr)
	require.NoError(t, err, "the pinned ziti and vault must build")

	n := testhosts.New(t, "hub", "node-a", "node-b")
	hubHost, nodeA, nodeB := n.Host("hub"), n.Host("node-a"), n.Host("node-b")

	began := time.Now()
	hub, err := multihost.StartHub(ctx, hubHost, tools.Ziti, tools.Vault)
	require.NoError(t, err)
	t.Logf("timing: hub ready (vault, controller, CLI login, hub router online) in %s", time.Since(began).Round(time.Millisecond))

	t.Run("the nodes reach vault on the hub over TLS with its CA", func(t *testing.T) {
		for _, node := range []*testhosts.Host{nodeA, nodeB} {
			client, err := hub.VaultClient(node)
			require.NoError(t, err)
			resp, err := client.Get(hub.VaultAddr + "/v1/sys/health")
			require.NoError(t, err, node.Name)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, node.Name)
		}
	})

	// Each node joins its own router; its identities use only that router.
	for _, node := range []*testhosts.Host{nodeA, nodeB} {
		began := time.Now()
		_, err := hub.JoinRouter(ctx, node, node.Name, node.Name)
		require.NoError(t, err)
		t.Logf("timing: router %s joined and online in %s", node.Name, time.Since(began).Round(time.Millisecond))
	}
	// The quickstart's defaults would let every identity use every
	// "#public" router (the hub's): replace them with per-node policies.
	cli(t, hub, "edge", "delete", "edge-router-policy", "all-endpoints-public-routers")
	cli(t, hub, "edge", "delete", "service-edge-router-policy", "all-routers-all-services")
	for _, node := range []string{"node-a", "node-b"} {
		cli(t, hub, "edge", "create", "edge-router-policy", node, "--edge-router-roles", "#"+node, "--identity-roles", "#"+node)
	}
	cli(t, hub, "edge", "create", "service", "demo")
	cli(t, hub, "edge", "create", "service-edge-router-policy", "demo", "--service-roles", "@demo", "--edge-router-roles", "#all")
	cli(t, hub, "edge", "create", "service-policy", "demo-bind", "Bind", "--service-roles", "@demo", "--identity-roles", "#node-a")
	cli(t, hub, "edge", "create", "service-policy", "demo-dial", "Dial", "--service-roles", "@demo", "--identity-roles", "#node-b")

	server, err := hub.EnrollIdentity(ctx, nodeA, "node-a-server", "node-a")
	require.NoError(t, err)
	client, err := hub.EnrollIdentity(ctx, nodeB, "node-b-client", "node-b")
	require.NoError(t, err)

	began = time.Now()
	host, _ := startSDK(t, nodeA, "sdk-host", "host", server, "demo")
	waitLog(t, host, "listening on demo", time.Minute)
	t.Logf("timing: service bound on node-a in %s", time.Since(began).Round(time.Millisecond))

	t.Run("the service is hosted through node-a's router", func(t *testing.T) {
		var terms struct {
			Data []struct {
				Router struct {
					Name string `json:"name"`
				} `json:"router"`
			} `json:"data"`
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			out := cli(t, hub, "edge", "list", "terminators", `service.name="demo"`, "--output-json")
			require.NoError(t, json.Unmarshal([]byte(out), &terms))
			if len(terms.Data) > 0 {
				break
			}
		}
		require.Len(t, terms.Data, 1)
		assert.Equal(t, "node-a", terms.Data[0].Router.Name)
	})

	began = time.Now()
	dialer, release := startSDK(t, nodeB, "sdk-dial", "dial", client, "demo")
	reply := waitLog(t, dialer, "reply after", time.Minute)
	t.Logf("timing: first dial from node-b, process start to answer, in %s (%s)",
		time.Since(began).Round(time.Millisecond), strings.TrimSpace(reply))

	t.Run("the hosted side sees the caller", func(t *testing.T) {
		assert.Contains(t, reply, "hello node-b-client, node-a-server here; you said ping")
		waitLog(t, host, "caller=node-b-client", 10*time.Second)
	})

	t.Run("the circuit runs from node-b's router to node-a's", func(t *testing.T) {
		paths := circuitPaths(t, hub)
		require.Len(t, paths, 1)
		path := strings.Split(paths[0], ">")
		t.Logf("circuit path: %v", path)
		assert.Equal(t, "node-b", path[0], "first router")
		assert.Equal(t, "node-a", path[len(path)-1], "last router")
	})

	release()
	select {
	case <-dialer.Done():
		assert.NoError(t, dialer.Err(), dialer.LogTail(20))
	case <-time.After(10 * time.Second):
		assert.Fail(t, "the dialer did not exit after its stdin closed")
	}
}
