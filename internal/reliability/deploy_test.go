//go:build linux

package reliability_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/toolchain"
)

// The deployment's services: core-data on node-a, served through either
// of node-a's two routers; device-virtual on node-b calls it steadily.
const (
	server      = "core-data"
	client      = "device-virtual"
	serverPing  = 59880
	clientPing  = 59890
	secondPort  = 3023 // edge and link port of node-a's second router
	jwtLifetime = "30s"
)

// deployment is the network the faults are injected into.
type deployment struct {
	t                    *testing.T
	net                  *testhosts.Network
	hub                  *multihost.Hub
	nodeA, nodeB         *testhosts.Host
	ztedge, ziti, topo   string
	routers              map[string]*routerProc // by name: node-a1, node-a2, node-b
	server, client       *testhosts.Process     // the two services
	serverCfg, clientCfg string
	load                 *loadLog // the client's requests
}

// routerProc is a "ztedge router join" running a router on a node.
type routerProc struct {
	name string
	node *testhosts.Host
	args []string
	p    *testhosts.Process
}

// deploy starts the hub, provisions the topology, joins the three routers
// and starts both services, and waits until the client's requests pass.
func deploy(t *testing.T) *deployment {
	t.Helper()
	ctx := t.Context()
	tools, err := toolchain.EnsureAll(ctx, os.Stderr)
	require.NoError(t, err, "the pinned ziti and vault must build")
	began := time.Now()
	d := &deployment{t: t, ziti: tools.Ziti, routers: map[string]*routerProc{}}
	d.ztedge = buildZtedge(t)
	d.net = testhosts.New(t, "hub", "node-a", "node-b")
	d.nodeA, d.nodeB = d.net.Host("node-a"), d.net.Host("node-b")
	// The TCP tuning docs/deployment.md recommends for ztedge hosts: a
	// connection whose data goes unacknowledged gives up after about 12 s
	// instead of 15 minutes. Ziti 1.6 closes neither a stalled router link
	// nor a stalled control channel on missed heartbeats, so without it
	// both sat in retransmission backoff after a link cut or an outage of
	// the controller, and came back 16-42 s after the fault ended.
	// RELIABILITY_TCP_RETRIES2 overrides the value (15 is Linux's default).
	retries := "5"
	if r := os.Getenv("RELIABILITY_TCP_RETRIES2"); r != "" {
		retries = r
	}
	for _, name := range []string{"hub", "node-a", "node-b"} {
		_, err := d.net.Host(name).Run(ctx, "sysctl", "-w", "net.ipv4.tcp_retries2="+retries)
		require.NoError(t, err, "the test hosts' TCP tuning")
	}
	if keep := os.Getenv("RELIABILITY_KEEP_LOGS"); keep != "" {
		// Runs before the network's cleanup (cleanups run last first).
		t.Cleanup(func() { keepLogs(t, d.net, keep) })
	}
	d.hub, err = multihost.StartHub(ctx, d.net.Host("hub"), tools.Ziti, tools.Vault)
	require.NoError(t, err)
	// A short API session lifetime, so that "controller unreachable for
	// longer than the API session lives" fits in a test.
	d.restartController(func() { setSessionTimeout(t, d.hub.Host.Dir, "1m") })
	d.cli("edge", "delete", "edge-router-policy", "all-endpoints-public-routers")
	d.cli("edge", "delete", "service-edge-router-policy", "all-routers-all-services")

	d.topo = d.writeTopology()
	out := d.run(d.hub.Host, d.ztedge, "provision", "apply", "-f", d.topo)
	t.Logf("provision apply:\n%s", out)
	output := filepath.Join(filepath.Dir(d.topo), "out")
	for _, r := range []struct {
		name string
		node *testhosts.Host
		port int
	}{{"node-a1", d.nodeA, multihost.RouterPort}, {"node-a2", d.nodeA, secondPort}, {"node-b", d.nodeB, multihost.RouterPort}} {
		jwt := filepath.Join(r.node.Dir, r.name+".jwt")
		copyFile(t, credentials.RouterTokenPath(output, r.name), jwt, 0o600)
		rp := &routerProc{name: r.name, node: r.node, args: []string{"router", "join", r.name, "-jwt", jwt,
			"-advertise", r.node.IP.String(), "-port", strconv.Itoa(r.port), "-link-port", strconv.Itoa(r.port),
			"-dir", filepath.Join(r.node.Dir, "router-"+r.name), "-ziti", tools.Ziti}}
		d.routers[r.name] = rp
		d.startRouter(rp)
	}
	for name := range d.routers {
		d.waitRouterOnline(name)
	}
	d.serverCfg = d.writeService(d.nodeA, output, server, serverPing)
	d.clientCfg = d.writeService(d.nodeB, output, client, clientPing, server)
	d.startServer()
	d.client = d.startHelper(d.nodeB, client, "service", "-timeout", loadTimeout.String(),
		"-load", server, "-interval", loadInterval.String(), d.clientCfg)
	d.load = &loadLog{path: d.client.Log}
	since := time.Now()
	d.waitOK(since, 2*time.Minute)
	t.Logf("timing: deployment up, first requests passing, in %s", time.Since(began).Round(time.Millisecond))
	return d
}

// writeTopology writes the hub's secrets and the topology into the hub's
// folder and returns the topology file.
func (d *deployment) writeTopology() string {
	t, hub := d.t, d.hub
	topo, err := hub.WriteTopology(filepath.Join(hub.Host.Dir, "deploy"), "", fmt.Sprintf(`# The example topology's core-data and device-virtual on two nodes, JWTs of 30 s.
jwt:
  audience: edgex
  ttl: %s
output: out
routers:
  - name: node-a1
    attributes: [node-a]
    advertise: %s
    port: %d
    linkPort: %d
  - name: node-a2
    attributes: [node-a]
    advertise: %s
    port: %d
    linkPort: %d
  - name: node-b
    attributes: [node-b]
    advertise: %s
    port: %d
    linkPort: %d
services:
  - name: %s
    groups: [core]
    routers: ["#node-a"]
  - name: %s
    groups: [devices]
    routers: ["#node-b"]
dial:
  - from: [group:devices]
    to: [%s]
`, jwtLifetime,
		d.nodeA.IP, multihost.RouterPort, multihost.RouterPort,
		d.nodeA.IP, secondPort, secondPort,
		d.nodeB.IP, multihost.RouterPort, multihost.RouterPort,
		server, client, server))
	require.NoError(t, err)
	return topo
}

// writeService writes a service's configuration on node (see
// multihost.Hub.WriteServiceConfig) and returns its file.
func (d *deployment) writeService(node *testhosts.Host, output, name string, ping int, peers ...string) string {
	file, err := d.hub.WriteServiceConfig(node, output, name, ping, peers...)
	require.NoError(d.t, err)
	return file
}

// startRouter runs (again) "ztedge router join" for r: the first time it
// enrolls, later it runs the enrolled router.
func (d *deployment) startRouter(r *routerProc) {
	p, err := r.node.Start("router-"+r.name, r.node.Command(context.Background(), d.ztedge, r.args...))
	require.NoError(d.t, err)
	r.p = p
}

// helperEnv names the program of internal/testprog this test binary runs
// as, inside a test host.
const helperEnv = "RELIABILITY_HELPER"

// loadInterval is the pause between the starts of two requests of the
// load; loadTimeout is the services' request timeout.
const (
	loadInterval = 100 * time.Millisecond
	loadTimeout  = 5 * time.Second
)

// startServer starts core-data on node-a (again, after a kill).
func (d *deployment) startServer() {
	d.server = d.startHelper(d.nodeA, server, "service", "-timeout", loadTimeout.String(), d.serverCfg)
}

// startHelper runs this test binary on h as one of the programs of
// internal/testprog.
func (d *deployment) startHelper(h *testhosts.Host, label, mode string, args ...string) *testhosts.Process {
	self, err := os.Executable()
	require.NoError(d.t, err)
	cmd := h.Command(context.Background(), self, args...)
	cmd.Env = append(cmd.Env, helperEnv+"="+mode)
	p, err := h.Start(label, cmd)
	require.NoError(d.t, err)
	return p
}

// restartController stops the hub's quickstart (controller and hub
// router), calls between, and starts it again on the same home, which it
// reuses, then waits for the API. It returns when the API answers.
func (d *deployment) restartController(between func()) {
	t, hub := d.t, d.hub
	require.NoError(t, hub.Ziti.Stop())
	if between != nil {
		between()
	}
	require.NoError(t, hub.StartController())
	d.waitController(2 * time.Minute)
}

// waitController waits until the controller's client API answers with its
// certificate.
func (d *deployment) waitController(limit time.Duration) {
	pem, err := os.ReadFile(d.hub.CAFile)
	require.NoError(d.t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: d.hub.Host.Dial, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := c.Get(d.hub.ControllerURL + "/edge/client/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	d.t.Fatalf("the controller did not answer within %s; %s", limit, d.hub.Ziti.LogTail(20))
}

// setSessionTimeout sets edge.api.sessionTimeout in the quickstart's
// controller configuration under dir.
func setSessionTimeout(t *testing.T, dir, timeout string) {
	var file string
	require.NoError(t, filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == "ctrl.yaml" {
			file = p
		}
		return err
	}))
	require.NotEmpty(t, file, "the quickstart's ctrl.yaml under %s", dir)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "sessionTimeout:") {
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			lines[i] = indent + "sessionTimeout: " + timeout
			n++
		}
	}
	require.Equal(t, 1, n, "one sessionTimeout line in %s", file)
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600))
}

// cli runs "ziti ARGS" as admin on the hub, logging in again first when
// the CLI's API session has expired (they live a minute here).
func (d *deployment) cli(args ...string) string {
	out, err := d.hub.CLI(d.t.Context(), args...)
	if err != nil {
		d.login()
		out, err = d.hub.CLI(d.t.Context(), args...)
	}
	require.NoError(d.t, err)
	return out
}

// login logs the hub's ziti CLI in again as admin.
func (d *deployment) login() {
	_, err := d.hub.CLI(d.t.Context(), "edge", "login", d.hub.ControllerURL, "--username", "admin",
		"--password", d.hub.AdminPassword, "--ca", d.hub.CAFile)
	require.NoError(d.t, err, "log the ziti CLI in again")
}

// waitRouterOnline waits until the controller sees router name online,
// with a fresh CLI login (an idle one expires in a minute here).
func (d *deployment) waitRouterOnline(name string) {
	d.login()
	require.NoError(d.t, d.hub.WaitRouterOnline(d.t.Context(), name))
}

// run runs a program on h and fails the test if it fails.
func (d *deployment) run(h *testhosts.Host, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := h.Run(ctx, bin, args...)
	require.NoError(d.t, err)
	return out
}

// buildZtedge compiles the ztedge command into a temporary folder.
func buildZtedge(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "ztedge")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ztedge/ztedge/cmd/ztedge").CombinedOutput()
	require.NoError(t, err, "building ztedge: %s", out)
	return bin
}

// copyFile copies src to dst with mode, creating dst's folder (0700).
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o700))
	require.NoError(t, os.WriteFile(dst, data, mode))
}

// keepLogs copies every host's logs into dir/HOST/, for reading after the
// test (RELIABILITY_KEEP_LOGS=dir).
func keepLogs(t *testing.T, n *testhosts.Network, dir string) {
	for _, h := range n.Hosts {
		logs, _ := filepath.Glob(filepath.Join(h.Dir, "*.log"))
		for _, f := range logs {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			dst := filepath.Join(dir, h.Name, filepath.Base(f))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err == nil {
				_ = os.WriteFile(dst, data, 0o600)
			}
		}
	}
	t.Logf("logs kept in %s", dir)
}
