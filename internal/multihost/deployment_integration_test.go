//go:build linux

package multihost_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgerouter"
	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/testprog"
	"github.com/ztedge/ztedge/internal/toolchain"
)

// Health ports of the two services, on their nodes' addresses.
const (
	alphaHealth = 59980
	betaHealth  = 59990
)

// TestIntegrationDeployment deploys ztedge across hosts the way
// docs/deployment.md describes: Vault and the controller on a hub,
// "ztedge provision apply" there, "ztedge router join" on two nodes (and
// on the hub, for the router whose tunneler publishes Vault on the
// overlay), a ztedge service on each node, pinned to its node's router,
// and a client identity on a laptop. It checks that calls cross hosts
// with their caller, that dial rules hold across hosts, that a Redis on
// node-a's loopback is reached from node-b through the overlay, that the
// services keep renewing their JWTs over Ziti once their underlay path to
// Vault is cut, that each node shows other hosts nothing but its router's
// edge port and its health port, and that the laptop reaches exactly what
// it may dial.
func TestIntegrationDeployment(t *testing.T) {
	stacktest.Integration(t)
	ctx := t.Context()
	tools, err := toolchain.EnsureAll(ctx, os.Stderr)
	require.NoError(t, err, "the pinned ziti and vault must build")
	began := time.Now()
	ztedge := buildZtedge(t)
	t.Logf("timing: ztedge built in %s", time.Since(began).Round(time.Millisecond))

	n := testhosts.New(t, "hub", "node-a", "node-b", "laptop")
	hubHost, nodeA, nodeB, laptop := n.Host("hub"), n.Host("node-a"), n.Host("node-b"), n.Host("laptop")
	step := time.Now()
	timing := func(what string) {
		t.Logf("timing: %s in %s", what, time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}
	hub, err := multihost.StartHub(ctx, hubHost, tools.Ziti, tools.Vault)
	require.NoError(t, err)
	timing("hub ready (vault, controller, its router)")
	t.Logf("hub's routers: %s", cli(t, hub, "edge", "list", "edge-routers"))
	// The quickstart's default policies let every identity use the hub's
	// router and every router carry every service; a deployment removes
	// them (docs/deployment.md).
	cli(t, hub, "edge", "delete", "edge-router-policy", "all-endpoints-public-routers")
	cli(t, hub, "edge", "delete", "service-edge-router-policy", "all-routers-all-services")

	// On the hub: provision.
	topology, output := writeDeployment(t, hub, nodeA, nodeB)
	out := run(t, hubHost, ztedge, "provision", "apply", "-f", topology)
	t.Logf("provision apply:\n%s", out)
	timing("first provision apply")
	t.Run("a second apply changes nothing", func(t *testing.T) {
		assert.Contains(t, run(t, hubHost, ztedge, "provision", "apply", "-f", topology), "No changes")
	})
	t.Run("each router's token is written for its node, private", func(t *testing.T) {
		for _, r := range []string{"hub", "node-a", "node-b"} {
			fi, err := os.Stat(credentials.RouterTokenPath(output, r))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			tok, err := edgerouter.ReadToken(credentials.RouterTokenPath(output, r))
			require.NoError(t, err)
			ctrl, err := tok.Controller()
			require.NoError(t, err)
			t.Logf("token of %s: controller %s, expires in %s", r, ctrl, time.Until(tok.Expires).Round(time.Minute))
		}
	})

	// On the nodes: join the routers. node-a gets the topology file and
	// its token in the same layout; node-b only its token, and flags.
	nodeATopology := filepath.Join(nodeA.Dir, "deploy", "topology.yaml")
	copyFile(t, topology, nodeATopology, 0o600)
	copyFile(t, credentials.RouterTokenPath(output, "node-a"), credentials.RouterTokenPath(filepath.Dir(nodeATopology)+"/out", "node-a"), 0o600)
	nodeBToken := filepath.Join(nodeB.Dir, "node-b.jwt")
	copyFile(t, credentials.RouterTokenPath(output, "node-b"), nodeBToken, 0o600)
	joinA := []string{"router", "join", "node-a", "-f", nodeATopology, "-dir", filepath.Join(nodeA.Dir, "router"), "-ziti", tools.Ziti}
	joinB := []string{"router", "join", "node-b", "-jwt", nodeBToken, "-advertise", nodeB.IP.String(), "-tunneler", "-dir", filepath.Join(nodeB.Dir, "router"), "-ziti", tools.Ziti}
	routerA := start(t, nodeA, "router-node-a", ztedge, joinA...)
	start(t, nodeB, "router-node-b", ztedge, joinB...)
	start(t, hubHost, "router-hub", ztedge, "router", "join", "hub", "-f", topology, "-dir", filepath.Join(hubHost.Dir, "router"), "-ziti", tools.Ziti)
	require.NoError(t, hub.WaitRouterOnline(ctx, "node-a"))
	require.NoError(t, hub.WaitRouterOnline(ctx, "node-b"))
	require.NoError(t, hub.WaitRouterOnline(ctx, "hub"))
	timing("the three routers joined, enrolled and online")
	t.Logf("router join node-a said: %s", strings.Join(ztedgeLines(t, routerA), " | "))

	t.Run("joining again enrolls nothing and prints the command", func(t *testing.T) {
		key := filepath.Join(nodeA.Dir, "router", "node-a.key")
		before, err := os.ReadFile(key)
		require.NoError(t, err)
		out := run(t, nodeA, ztedge, append(joinA, "-print")...)
		t.Logf("router join node-a -print:\n%s", out)
		assert.Contains(t, out, "router node-a is enrolled already")
		assert.Contains(t, out, tools.Ziti+" router run "+filepath.Join(nodeA.Dir, "router", "router.yaml"))
		after, err := os.ReadFile(key)
		require.NoError(t, err)
		assert.Equal(t, before, after, "the key is kept")
	})
	t.Run("apply after the joins changes nothing", func(t *testing.T) {
		assert.Contains(t, run(t, hubHost, ztedge, "provision", "apply", "-f", topology), "No changes")
	})

	// The services, each on its node, with its own credentials file;
	// redis on node-a's loopback, for beta.
	startRedis(t, nodeA)
	alpha := startService(t, nodeA, hub, output, "alpha", alphaHealth, "beta")
	beta := startService(t, nodeB, hub, output, "beta", betaHealth, "alpha", "redis:6379")
	waitReady(t, hubHost, nodeA, alphaHealth, alpha)
	waitReady(t, hubHost, nodeB, betaHealth, beta)
	timing("both services bound")

	t.Run("status shows redis hosted on node-a and Vault on the hub", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := hubHost.Run(ctx, ztedge, "status", "-f", topology, "-o", "json")
		var st inspect.Status
		require.NoError(t, json.Unmarshal([]byte(out), &st), "status said (%v):\n%s", err, out)
		t.Logf("status problems: %q", st.Problems)
		require.Len(t, st.Dependencies, 2)
		assert.Equal(t, inspect.DependencyStatus{Name: "redis", ZitiService: "edgex.redis", Router: "node-a", Present: true, Bound: true, Routers: []string{"node-a"}}, st.Dependencies[0])
		assert.Equal(t, inspect.DependencyStatus{Name: "ztedge.vault", ZitiService: "ztedge.vault", Router: "hub", Present: true, Bound: true, Routers: []string{"hub"}}, st.Dependencies[1])
		for _, p := range st.Problems {
			assert.NotContains(t, p, "dependency")
		}
	})
	t.Run("beta on node-b calls alpha on node-a over Ziti, and alpha sees beta", func(t *testing.T) {
		line := call(t, beta, "1", "alpha")
		t.Logf("beta: %s", line)
		assert.Contains(t, line, "200 alpha here; you are beta")
	})
	t.Run("the call goes from node-b's router straight to node-a's", func(t *testing.T) {
		t.Logf("links: %s", cli(t, hub, "fabric", "list", "links"))
		paths := circuitPaths(t, hub)
		t.Logf("circuit paths: %v", paths)
		assert.Contains(t, paths, "node-b>node-a", "node-b dials its link to node-a's shared edge and link port")
	})
	t.Run("alpha may not dial beta: refused across hosts", func(t *testing.T) {
		line := call(t, alpha, "2", "beta")
		t.Logf("alpha: %s", line)
		assert.Contains(t, line, ": error ")
	})
	timing("calls across nodes")

	checkDependency(t, ztedge, n, nodeA, nodeB, multihost.ServiceConfigPath(nodeB, "beta"))
	timing("redis over the overlay")
	checkVaultOverOverlay(t, hub, nodeA, nodeB, alpha, beta)
	timing("the Vault cut")

	t.Run("the laptop reaches exactly what its identity may dial", func(t *testing.T) {
		identity := filepath.Join(laptop.Dir, "laptop.json")
		copyFile(t, credentials.IdentityPath(output, "laptop"), identity, 0o600)
		p, _ := startHelper(t, laptop, "laptop-client", "client", identity, "+alpha", "-beta")
		waitLog(t, p, "client done", 2*time.Minute)
		reachA, reachB := waitLog(t, p, "reach alpha:", time.Second), waitLog(t, p, "reach beta:", time.Second)
		t.Logf("laptop: %s", reachA)
		t.Logf("laptop: %s", reachB)
		assert.Contains(t, reachA, "reach alpha: 200 alpha here; you are laptop")
		assert.Contains(t, reachB, "reach beta: refused")
	})
	timing("laptop client")

	t.Run("from every other host, a node shows only its router's edge port and its health port", func(t *testing.T) {
		want := map[*testhosts.Host][]int{nodeA: {multihost.RouterPort, alphaHealth}, nodeB: {multihost.RouterPort, betaHealth}}
		type scan struct {
			from, to *testhosts.Host
			p        *testhosts.Process
		}
		var scans []scan
		for _, to := range []*testhosts.Host{nodeA, nodeB} {
			for _, from := range n.Hosts {
				if from != to {
					p, _ := startHelper(t, from, "scan-"+to.Name, "scan", to.IP.String())
					scans = append(scans, scan{from, to, p})
				}
			}
		}
		hubScan, _ := startHelper(t, laptop, "scan-hub", "scan", hubHost.IP.String())
		for _, s := range scans {
			done := waitLog(t, s.p, testprog.ScanDone, 3*time.Minute)
			open := openPorts(t, s.p)
			t.Logf("%s -> %s: open %v (%s)", s.from.Name, s.to.Name, open, strings.TrimSpace(done))
			assert.Equal(t, want[s.to], open, "%s scanning %s", s.from.Name, s.to.Name)
		}
		waitLog(t, hubScan, testprog.ScanDone, 3*time.Minute)
		t.Logf("laptop -> hub (for the record): open %v", openPorts(t, hubScan))
	})
	timing("port scans of both nodes from the three other hosts")

	t.Run("the health ports answer only ping", func(t *testing.T) {
		client := laptop.HTTPClient()
		for node, port := range map[*testhosts.Host]int{nodeA: alphaHealth, nodeB: betaHealth} {
			base := "http://" + node.Addr(port)
			assert.Equal(t, http.StatusOK, status(t, client, http.MethodGet, base+"/api/v3/ping"))
			assert.Equal(t, http.StatusOK, status(t, client, http.MethodGet, base+"/api/v3/ping?ready"))
			assert.Equal(t, http.StatusNotFound, status(t, client, http.MethodGet, base+"/whoami"))
			assert.Equal(t, http.StatusNotFound, status(t, client, http.MethodGet, base+"/metrics"))
			assert.Equal(t, http.StatusMethodNotAllowed, status(t, client, http.MethodPost, base+"/api/v3/ping"))
		}
	})

	t.Run("a new node is a plan of its router, its service and their policies", func(t *testing.T) {
		data, err := os.ReadFile(topology)
		require.NoError(t, err)
		grown := filepath.Join(filepath.Dir(topology), "grown.yaml")
		extra := strings.Replace(string(data), "services:\n", "  - name: node-c\n    attributes: [node-c]\n    advertise: 198.51.100.13\nservices:\n", 1) +
			"  - from: [beta]\n    to: [gamma]\n"
		extra = strings.Replace(extra, "clients:\n", "  - name: gamma\n    routers: [node-c]\nclients:\n", 1)
		require.NoError(t, os.WriteFile(grown, []byte(extra), 0o600))
		out := run(t, hubHost, ztedge, "provision", "plan", "-f", grown)
		t.Logf("provision plan with node-c:\n%s", out)
		assert.Contains(t, out, "create ziti edge-router node-c")
		assert.Contains(t, out, "create ziti service-edge-router-policy ztedge.service-edge-routers.@node-c")
		// beta dials gamma from node-b's routers: gamma's service carries
		// the attribute of their policy, which itself does not change.
		assert.Contains(t, out, "create ziti service edgex.gamma")
		assert.NotContains(t, out, "ztedge.service-edge-routers.#node-b")
	})

	t.Run("destroy removes the routers ztedge made and their tokens, and keeps the hub's", func(t *testing.T) {
		out := run(t, hubHost, ztedge, "provision", "destroy", "-f", topology)
		assert.Contains(t, out, "delete ziti edge-router node-a")
		var list struct {
			Data []struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(cli(t, hub, "edge", "list", "edge-routers", "--output-json")), &list))
		var names []string
		for _, r := range list.Data {
			names = append(names, r.Name)
		}
		assert.Equal(t, []string{"hub-router"}, names)
		_, err := os.Stat(credentials.RouterTokenPath(output, "node-a"))
		assert.True(t, os.IsNotExist(err), "token file removed")
	})
	t.Logf("timing: whole deployment test (after the build) in %s", time.Since(began).Round(time.Millisecond))
}

// buildZtedge compiles the ztedge command into a temporary folder.
func buildZtedge(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ztedge")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ztedge/ztedge/cmd/ztedge").CombinedOutput()
	require.NoError(t, err, "building ztedge: %s", out)
	return bin
}

// writeDeployment writes the hub's secrets and the topology of the
// deployment into the hub's folder and returns the topology file and the
// output folder.
func writeDeployment(t *testing.T, hub *multihost.Hub, nodeA, nodeB *testhosts.Host) (topology, output string) {
	t.Helper()
	dir := filepath.Join(hub.Host.Dir, "deploy")
	topology, err := hub.WriteTopology(dir, `  tokenPeriod: 1m          # renewed over Ziti during the Vault cut
  overlay:
    router: hub            # Vault on the overlay, hosted by its own host's router
`, fmt.Sprintf(`# The deployment of docs/deployment.md, on test hosts.
jwt:
  ttl: 20s                 # several lifetimes pass during the Vault cut
output: out
routers:
  - name: hub        # on Vault's host: its tunneler hosts Vault on the overlay
    attributes: [hub]
    advertise: %s
    port: 3023       # the quickstart's hub-router has 3022
    linkPort: 3023
    tunneler: true
  - name: node-a
    attributes: [node-a]
    advertise: %s
    linkPort: 3022   # links from other routers share the edge port
    tunneler: true   # hosts redis (host mode: no port of its own)
  - name: node-b
    attributes: [node-b]
    advertise: %s
    tunneler: true   # its tunneler runs in host mode: no port of its own
services:
  - name: alpha
    routers: [node-a]
  - name: beta
    routers: ["#node-b"]
clients:
  - name: laptop
    routers: ["#public"]   # the hub's router
dependencies:
  - name: redis      # on node-a's loopback, hosted by its router's tunneler
    router: node-a
    port: 6379
    dialers: [beta]
dial:
  - from: [beta, laptop]
    to: [alpha]
`, hub.Host.IP, nodeA.IP, nodeB.IP))
	require.NoError(t, err)
	return topology, filepath.Join(dir, "out")
}

// run runs a program on h and fails the test if it fails.
func run(t testing.TB, h *testhosts.Host, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := h.Run(ctx, bin, args...)
	require.NoError(t, err)
	return out
}

// start starts a long-running program on h.
func start(t *testing.T, h *testhosts.Host, label, bin string, args ...string) *testhosts.Process {
	t.Helper()
	p, err := h.Start(label, h.Command(context.Background(), bin, args...))
	require.NoError(t, err)
	return p
}

// startHelper runs this test binary on h in one of its helper modes and
// returns the process and its standard input.
func startHelper(t testing.TB, h *testhosts.Host, label, mode string, args ...string) (*testhosts.Process, io.WriteCloser) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := h.Command(context.Background(), self, args...)
	cmd.Env = append(cmd.Env, "MULTIHOST_SDK="+mode)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p, err := h.Start(label, cmd)
	require.NoError(t, err)
	return p, stdin
}

// service is a ztedge service running on a node.
type service struct {
	p     *testhosts.Process
	stdin io.WriteCloser
}

// startService writes the service's configuration on node (see
// writeServiceConfig) and starts it.
func startService(t *testing.T, node *testhosts.Host, hub *multihost.Hub, output, name string, health int, peers ...string) *service {
	t.Helper()
	p, stdin := startHelper(t, node, name, "service", writeServiceConfig(t, node, hub, output, name, health, peers...))
	return &service{p: p, stdin: stdin}
}

// writeServiceConfig writes the service's configuration on node (see
// multihost.Hub.WriteServiceConfig) and returns its file.
func writeServiceConfig(t testing.TB, node *testhosts.Host, hub *multihost.Hub, output, name string, health int, peers ...string) string {
	t.Helper()
	file, err := hub.WriteServiceConfig(node, output, name, health, peers...)
	require.NoError(t, err)
	return file
}

// waitReady waits until the service's readiness check, asked from
// another host, says it is bound.
func waitReady(t *testing.T, from, node *testhosts.Host, port int, s *service) {
	t.Helper()
	client := from.HTTPClient()
	url := "http://" + node.Addr(port) + "/api/v3/ping?ready"
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if !s.p.Running() {
			t.Fatalf("%s exited (%v); %s", s.p.Label, s.p.Err(), s.p.LogTail(30))
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s did not become ready; %s", s.p.Label, s.p.LogTail(30))
}

// call has s call peer's /whoami over Ziti and returns the logged outcome.
func call(t *testing.T, s *service, id, peer string) string {
	t.Helper()
	_, err := fmt.Fprintf(s.stdin, "%s %s\n", id, peer)
	require.NoError(t, err)
	return waitLog(t, s.p, "call "+id+" "+peer+":", time.Minute)
}

// circuitPaths lists the open circuits' router paths, "a>b>c" each.
func circuitPaths(t testing.TB, hub *multihost.Hub) []string {
	t.Helper()
	var circuits struct {
		Data []struct {
			Path struct {
				Nodes []struct {
					Name string `json:"name"`
				} `json:"nodes"`
			} `json:"path"`
		} `json:"data"`
	}
	out := cli(t, hub, "fabric", "list", "circuits", "--output-json")
	require.NoError(t, json.Unmarshal([]byte(out), &circuits), out)
	var paths []string
	for _, c := range circuits.Data {
		var names []string
		for _, n := range c.Path.Nodes {
			names = append(names, n.Name)
		}
		paths = append(paths, strings.Join(names, ">"))
	}
	return paths
}

// openPorts reads the ports a scan process logged as open.
func openPorts(t *testing.T, p *testhosts.Process) []int {
	t.Helper()
	ports, err := testprog.OpenPorts(p.Log)
	require.NoError(t, err)
	return ports
}

// ztedgeLines returns the lines a "ztedge router join" process wrote
// itself (not the router's log).
func ztedgeLines(t *testing.T, p *testhosts.Process) []string {
	t.Helper()
	data, err := os.ReadFile(p.Log)
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "router ") || strings.HasPrefix(l, "running: ") {
			out = append(out, l)
		}
	}
	return out
}

// status does a request and returns the response's status code.
func status(t *testing.T, client *http.Client, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// copyFile copies src to dst with mode, creating dst's folder (0700).
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o700))
	require.NoError(t, os.WriteFile(dst, data, mode))
}
