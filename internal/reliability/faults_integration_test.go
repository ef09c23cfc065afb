//go:build linux

package reliability_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/logredact"
	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/testprog"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		code, ok := testprog.Main(mode, os.Args[1:])
		if !ok {
			code = 2
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// recoveryTarget is how soon after a fault ends the service must answer
// again (issue 11).
const recoveryTarget = 10 * time.Second

// Fault lengths.
const (
	linkCut         = 30 * time.Second
	ctrlUnreachable = 75 * time.Second // longer than the API session (1m) lives
)

// TestIntegrationFaults injects each fault into one deployment while
// device-virtual on node-b calls core-data on node-a every 100 ms, and
// checks for each: the service answers again within recoveryTarget of the
// fault's end, no request fails once it answers again, and the answers
// come from the running core-data process. At the end no node shows a
// port it should not and no log holds a token.
func TestIntegrationFaults(t *testing.T) {
	stacktest.Integration(t)
	d := deploy(t)
	began := time.Now()
	// check asserts recovery within the target, and no failure after it.
	check := func(t *testing.T, o outcome) {
		t.Log(o.String())
		for _, f := range o.firstFailures {
			t.Logf("  a failure: %s", f)
		}
		if assert.True(t, o.recovered, "core-data answers again") {
			assert.LessOrEqual(t, o.recovery, recoveryTarget, "time until core-data answers again")
		}
		assert.Zero(t, o.failAfter, "requests failed after recovery")
	}

	t.Run("router loss: node-a1 killed, core-data answers through node-a2", func(t *testing.T) {
		r := d.routers["node-a1"]
		check(t, d.fault("router loss", func() { require.NoError(t, r.p.Stop()) }, nil))
		// The controller keeps a lost router's terminators until it sees
		// the router offline; it routes no new circuit to them.
		t.Logf("terminators: %v", d.terminators())
	})
	t.Run("router restart: node-a1 back, then node-a2 restarted", func(t *testing.T) {
		d.startRouter(d.routers["node-a1"])
		d.waitRouterOnline("node-a1")
		r := d.routers["node-a2"]
		check(t, d.fault("router restart", func() { require.NoError(t, r.p.Stop()) }, func() {
			d.startRouter(r)
			d.waitRouterOnline(r.name)
		}))
		t.Logf("terminators: %v", d.terminators())
	})
	t.Run("link cut: node-a's cable out for 30 s", func(t *testing.T) {
		check(t, d.fault("link cut", func() {
			require.NoError(t, d.nodeA.LinkDown())
			time.Sleep(linkCut)
		}, func() { require.NoError(t, d.nodeA.LinkUp()) }))
	})
	t.Run("controller restart", func(t *testing.T) {
		check(t, d.fault("controller restart", func() { require.NoError(t, d.hub.Ziti.Stop()) },
			func() { d.restartController(nil) }))
	})
	t.Run("controller unreachable for longer than the API session lives", func(t *testing.T) {
		hub := d.hub.Host
		check(t, d.fault("controller unreachable", func() {
			require.NoError(t, hub.BlockFrom(d.nodeA, 0))
			require.NoError(t, hub.BlockFrom(d.nodeB, 0))
			time.Sleep(ctrlUnreachable)
		}, func() {
			require.NoError(t, hub.UnblockFrom(d.nodeA, 0))
			require.NoError(t, hub.UnblockFrom(d.nodeB, 0))
		}))
		// The routers' control channels come back on their own schedule;
		// until then a new API session is unknown to them (a service
		// starting then waits for its routers).
		unblocked := time.Now()
		for name := range d.routers {
			d.waitRouterOnline(name)
		}
		t.Logf("controller unreachable: the controller sees all routers online %s after the fault ended",
			time.Since(unblocked).Round(100*time.Millisecond))
	})
	t.Run("core-data killed and started again: it binds again, no stale terminator answers", func(t *testing.T) {
		o := d.fault("service killed", func() {
			require.NoError(t, syscall.Kill(-d.server.Cmd.Process.Pid, syscall.SIGKILL))
			<-d.server.Done()
		}, func() { d.server = d.startHelper(d.nodeA, server, "service", d.serverCfg) })
		check(t, o)
		assert.Equal(t, []string{lastInstance(t, d.server.Log)}, o.instances, "only the new process answers")
		terms := d.terminators()
		t.Logf("terminators: %v", terms)
		assert.LessOrEqual(t, len(terms), 2, "at most one terminator per node-a router")
	})
	t.Logf("timing: all faults in %s", time.Since(began).Round(time.Second))

	t.Run("both services are ready and never restarted by hand but the killed one", func(t *testing.T) {
		assert.True(t, d.client.Running(), "device-virtual runs")
		c := d.hub.Host.HTTPClient()
		for _, url := range []string{"http://" + d.nodeA.Addr(serverPing), "http://" + d.nodeB.Addr(clientPing)} {
			resp, err := c.Get(url + "/api/v3/ping?ready")
			if assert.NoError(t, err) {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, body)
			}
		}
	})
	t.Run("no port opened: each node shows only its routers' ports and its ping port", func(t *testing.T) {
		d.checkPorts(t)
	})
	t.Run("no token in any log", func(t *testing.T) {
		d.checkLogs(t)
	})
}

// fault injects a fault with inject, ends it with heal (nil: the fault
// ends when inject returns), and waits until core-data has answered again
// for settle, or until giveUp. It returns what the load saw from the start
// of the fault on.
func (d *deployment) fault(name string, inject, heal func()) outcome {
	const settle, giveUp = 5 * time.Second, 90 * time.Second
	start := time.Now()
	d.t.Logf("%s: fault injected at %s", name, start.Format("15:04:05.000"))
	inject()
	if heal != nil {
		heal()
	}
	end := time.Now()
	d.t.Logf("%s: fault ended at %s", name, end.Format("15:04:05.000"))
	for time.Since(end) < giveUp {
		time.Sleep(500 * time.Millisecond)
		o := classify(name, d.load.since(start), start, end)
		if o.recovered && time.Since(end) >= o.recovery+settle {
			o.settleTime = time.Since(end)
			return o
		}
	}
	return classify(name, d.load.since(start), start, end)
}

// waitOK waits until a request that started after since passed.
func (d *deployment) waitOK(since time.Time, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		for _, r := range d.load.since(since) {
			if r.OK {
				return
			}
		}
		if !d.client.Running() || !d.server.Running() {
			break
		}
	}
	d.t.Fatalf("no request passed within %s; %s\n%s", limit, d.client.LogTail(20), d.server.LogTail(20))
}

// terminators lists the routers of core-data's terminators.
func (d *deployment) terminators() []string {
	var terms struct {
		Data []struct {
			Router struct {
				Name string `json:"name"`
			} `json:"router"`
		} `json:"data"`
	}
	out := d.cli("edge", "list", "terminators", `service.name="edgex.`+server+`"`, "--output-json")
	require.NoError(d.t, json.Unmarshal([]byte(out), &terms), out)
	var names []string
	for _, x := range terms.Data {
		names = append(names, x.Router.Name)
	}
	return names
}

// lastInstance returns the instance a service process logged last.
func lastInstance(t *testing.T, log string) string {
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^instance (\w+)$`).FindAllStringSubmatch(string(data), -1)
	require.NotEmpty(t, m)
	return m[len(m)-1][1]
}

// checkPorts scans both nodes from the hub.
func (d *deployment) checkPorts(t *testing.T) {
	want := map[*testhosts.Host][]int{
		d.nodeA: {multihost.RouterPort, secondPort, serverPing},
		d.nodeB: {multihost.RouterPort, clientPing},
	}
	scans := map[*testhosts.Host]*testhosts.Process{}
	for node := range want {
		scans[node] = d.startHelper(d.hub.Host, "scan-"+node.Name, "scan", node.IP.String())
	}
	for node, p := range scans {
		select {
		case <-p.Done():
		case <-time.After(3 * time.Minute):
			t.Fatalf("the scan of %s did not end", node.Name)
		}
		data, err := os.ReadFile(p.Log)
		require.NoError(t, err)
		require.Contains(t, string(data), testprog.ScanDone)
		ports, err := testprog.OpenPorts(p.Log)
		require.NoError(t, err)
		t.Logf("hub -> %s: open %v", node.Name, ports)
		assert.Equal(t, want[node], ports, node.Name)
	}
}

// Tokens as they would appear in a log: JWTs, Vault service tokens.
var tokenLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}|hv[sb]\.[A-Za-z0-9_-]{20,}`)

// checkLogs reads the logs of the ztedge processes (both services, every
// run of them, and "ztedge router join" on the nodes, whose log also
// holds its router's): none holds a JWT or a Vault token, nor the hub's
// root token or admin password. The Ziti routers log the session tokens
// of the terminators they host and the circuits they route; "ztedge
// router join" passes their output on redacted, which this checks too.
func (d *deployment) checkLogs(t *testing.T) {
	ours := []string{d.server.Log, d.client.Log}
	for _, r := range d.routers {
		ours = append(ours, r.p.Log)
	}
	for _, f := range ours {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		text := string(data)
		if strings.HasPrefix(filepath.Base(f), "router-") {
			t.Logf("%s: %d token fields redacted", filepath.Base(f), strings.Count(text, logredact.Redacted))
		}
		assert.Empty(t, tokenLike.FindAllString(text, 3), "token-like strings in %s", f)
		assert.NotContains(t, text, d.hub.VaultToken, "Vault root token in %s", f)
		assert.NotContains(t, text, d.hub.AdminPassword, "admin password in %s", f)
	}
	t.Logf("%d logs checked", len(ours))
}
