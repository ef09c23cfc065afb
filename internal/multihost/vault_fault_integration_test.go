//go:build linux

package multihost_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/testprog"
	"github.com/ztedge/ztedge/internal/toolchain"
)

// faultJWTTTL is the JWT lifetime of the Vault fault test: short, so that
// an outage can outlast it.
const faultJWTTTL = 30 * time.Second

// recoveryTarget is how soon after a fault ends calls must succeed again.
const recoveryTarget = 10 * time.Second

// TestIntegrationVaultFaults runs the hub (Vault with TLS and file storage,
// the controller), alpha on node-a and beta on node-b with 30 s JWTs, and
// beta calling alpha five times a second throughout, across two Vault
// faults: Vault restarting, and Vault unreachable from both nodes for
// longer than a JWT lives. Nothing is restarted by hand but Vault itself
// (unsealed again by the hub, as an operator's unseal or auto-unseal
// would). Each fault reports the calls sent and failed before, during and
// after it and the time until calls succeed again.
func TestIntegrationVaultFaults(t *testing.T) {
	stacktest.Integration(t)
	ctx := t.Context()
	tools, err := toolchain.EnsureAll(ctx, os.Stderr)
	require.NoError(t, err, "the pinned ziti and vault must build")
	ztedge := buildZtedge(t)

	n := testhosts.New(t, "hub", "node-a", "node-b")
	hubHost, nodeA, nodeB := n.Host("hub"), n.Host("node-a"), n.Host("node-b")
	hub, err := multihost.StartHub(ctx, hubHost, tools.Ziti, tools.Vault)
	require.NoError(t, err)
	cli(t, hub, "edge", "delete", "edge-router-policy", "all-endpoints-public-routers")
	cli(t, hub, "edge", "delete", "service-edge-router-policy", "all-routers-all-services")
	topology, output := writeFaultTopology(t, hub, nodeA, nodeB)
	run(t, hubHost, ztedge, "provision", "apply", "-f", topology)
	for _, node := range []*testhosts.Host{nodeA, nodeB} {
		token := filepath.Join(node.Dir, node.Name+".jwt")
		copyFile(t, credentials.RouterTokenPath(output, node.Name), token, 0o600)
		start(t, node, "router-"+node.Name, ztedge, "router", "join", node.Name, "-jwt", token,
			"-advertise", node.IP.String(), "-dir", filepath.Join(node.Dir, "router"), "-ziti", tools.Ziti)
		require.NoError(t, hub.WaitRouterOnline(ctx, node.Name))
	}
	alpha := startService(t, nodeA, hub, output, "alpha", alphaHealth)
	beta := startService(t, nodeB, hub, output, "beta", betaHealth, "alpha")
	waitReady(t, hubHost, nodeA, alphaHealth, alpha)
	waitReady(t, hubHost, nodeB, betaHealth, beta)
	_, err = fmt.Fprintln(beta.stdin, "load alpha")
	require.NoError(t, err)
	waitLog(t, beta.p, ": 200 alpha here; you are beta", time.Minute)
	ready := func(node *testhosts.Host, port int) int {
		resp, err := hubHost.HTTPClient().Get("http://" + node.Addr(port) + "/api/v3/ping?ready")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("vault restarts: services keep serving and JWT renewal resumes", func(t *testing.T) {
		from := time.Now()
		time.Sleep(5 * time.Second)
		renewedA, renewedB := countLog(t, alpha.p, "renewed the service's JWT"), countLog(t, beta.p, "renewed the service's JWT")
		faultStart := time.Now()
		require.NoError(t, hub.RestartVault(ctx))
		faultEnd := time.Now()
		t.Logf("figure: vault restart: down and sealed for %s (stop, start, unseal by the hub's keeper)", faultEnd.Sub(faultStart).Round(time.Millisecond))
		// Past a whole JWT lifetime: both services must have renewed
		// from the restarted Vault.
		time.Sleep(faultJWTTTL + 10*time.Second)
		r := summarize(loadCalls(t, beta.p), from, faultStart, faultEnd, time.Now())
		t.Logf("figure: vault restart: %s", r)
		assert.Zero(t, r.during.failed+r.after.failed, "services keep serving across a Vault restart")
		assert.LessOrEqual(t, r.recovery, recoveryTarget)
		assert.Greater(t, countLog(t, alpha.p, "renewed the service's JWT"), renewedA, "alpha renewed its JWT after the restart")
		assert.Greater(t, countLog(t, beta.p, "renewed the service's JWT"), renewedB, "beta renewed its JWT after the restart")
		assert.Equal(t, http.StatusOK, ready(nodeA, alphaHealth))
		assert.Equal(t, http.StatusOK, ready(nodeB, betaHealth))
	})

	t.Run("vault unreachable for longer than a JWT lives: cached JWT until exp, then a clear error, not ready, and recovery by itself", func(t *testing.T) {
		from := time.Now()
		time.Sleep(3 * time.Second)
		faultStart := time.Now()
		for _, node := range []*testhosts.Host{nodeA, nodeB} {
			require.NoError(t, hubHost.BlockFrom(node, multihost.VaultPort))
		}
		// Readiness goes 503 when the JWT has expired: within one JWT
		// lifetime of the cut.
		var notReady [2]time.Time
		for deadline := time.Now().Add(faultJWTTTL + 30*time.Second); time.Now().Before(deadline) && (notReady[0].IsZero() || notReady[1].IsZero()); time.Sleep(250 * time.Millisecond) {
			if notReady[0].IsZero() && ready(nodeA, alphaHealth) == http.StatusServiceUnavailable {
				notReady[0] = time.Now()
			}
			if notReady[1].IsZero() && ready(nodeB, betaHealth) == http.StatusServiceUnavailable {
				notReady[1] = time.Now()
			}
		}
		require.False(t, notReady[0].IsZero() || notReady[1].IsZero(), "both services report not ready once their JWT has expired")
		if resp, err := hubHost.HTTPClient().Get("http://" + nodeA.Addr(alphaHealth) + "/api/v3/ping?ready"); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			t.Logf("alpha's readiness: %s %s", resp.Status, strings.TrimSpace(string(body)))
		}
		t.Logf("figure: vault unreachable: alpha not ready %s after the cut, beta %s (JWT lifetime %s)",
			notReady[0].Sub(faultStart).Round(100*time.Millisecond), notReady[1].Sub(faultStart).Round(100*time.Millisecond), faultJWTTTL)
		line := waitLog(t, alpha.p, "the service's JWT has expired and vault cannot issue a new one", 10*time.Second)
		t.Logf("alpha logs: %s", line)
		t.Logf("beta logs: %s", waitLog(t, beta.p, "the service's JWT has expired and vault cannot issue a new one", 10*time.Second))
		// Cut for longer than a whole JWT lifetime.
		time.Sleep(time.Until(faultStart.Add(faultJWTTTL + 15*time.Second)))
		for _, node := range []*testhosts.Host{nodeA, nodeB} {
			require.NoError(t, hubHost.UnblockFrom(node, multihost.VaultPort))
		}
		faultEnd := time.Now()
		var readyAgain time.Duration
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			if ready(nodeA, alphaHealth) == http.StatusOK && ready(nodeB, betaHealth) == http.StatusOK {
				readyAgain = time.Since(faultEnd)
				break
			}
		}
		require.NotZero(t, readyAgain, "both services are ready again by themselves")
		t.Logf("figure: vault unreachable: both ready again %s after the cut ended", readyAgain.Round(100*time.Millisecond))
		t.Logf("alpha logs: %s", waitLog(t, alpha.p, "vault issues identity tokens again", 10*time.Second))
		time.Sleep(recoveryTarget + 5*time.Second)
		calls := loadCalls(t, beta.p)
		r := summarize(calls, from, faultStart, faultEnd, time.Now())
		t.Logf("figure: vault unreachable %s: %s", faultEnd.Sub(faultStart).Round(time.Second), r)
		assert.LessOrEqual(t, r.recovery, recoveryTarget, "calls succeed again soon after Vault is back")
		assert.LessOrEqual(t, readyAgain, recoveryTarget)
		// Until beta's JWT expired, its cached JWT kept the calls going.
		okUntil := 0
		for _, c := range calls {
			if !c.Start.Before(faultStart) && c.End().Before(notReady[1].Add(-time.Second)) && !c.OK {
				t.Errorf("call %d at %s, before beta's JWT expired, failed: %s", c.N, c.Start.Sub(faultStart).Round(time.Millisecond), c.Outcome)
			} else if !c.Start.Before(faultStart) && c.End().Before(notReady[1]) {
				okUntil++
			}
		}
		t.Logf("figure: vault unreachable: %d calls succeeded on the cached JWTs after the cut", okUntil)
	})

	t.Run("no token or unseal key in any log", func(t *testing.T) {
		init, err := os.ReadFile(hub.VaultFiles.InitFile())
		require.NoError(t, err)
		key := regexp.MustCompile(`"keys_base64":\["([^"]+)"`).FindSubmatch(init)
		require.NotNil(t, key)
		for _, h := range n.Hosts {
			logs, err := filepath.Glob(filepath.Join(h.Dir, "*.log"))
			require.NoError(t, err)
			for _, f := range logs {
				data, err := os.ReadFile(f)
				require.NoError(t, err)
				assert.NotContains(t, string(data), hub.VaultToken, f)
				assert.NotContains(t, string(data), string(key[1]), f)
				if strings.Contains(f, "alpha") || strings.Contains(f, "beta") {
					assert.NotRegexp(t, `eyJ[A-Za-z0-9_-]{10,}\.`, string(data), "a JWT in %s", f)
					assert.NotContains(t, string(data), "hvs.", f)
				}
			}
		}
	})
}

// writeFaultTopology writes the hub's secrets and the fault test's
// topology (30 s JWTs, a router per node, alpha and beta) into the hub's
// folder and returns the topology file and the output folder.
func writeFaultTopology(t *testing.T, hub *multihost.Hub, nodeA, nodeB *testhosts.Host) (topology, output string) {
	t.Helper()
	dir := filepath.Join(hub.Host.Dir, "deploy")
	topology, err := hub.WriteTopology(dir, "", fmt.Sprintf(`jwt:
  ttl: %s
output: out
routers:
  - name: node-a
    attributes: [node-a]
    advertise: %s
  - name: node-b
    attributes: [node-b]
    advertise: %s
services:
  - name: alpha
    routers: [node-a]
  - name: beta
    routers: [node-b]
dial:
  - from: [beta]
    to: [alpha]
`, faultJWTTTL, nodeA.IP, nodeB.IP))
	require.NoError(t, err)
	return topology, filepath.Join(dir, "out")
}

// loadCalls reads the calls p's load loop has logged so far.
func loadCalls(t *testing.T, p *testhosts.Process) []testprog.Call {
	t.Helper()
	calls, err := testprog.ReadLoad(p.Log)
	require.NoError(t, err)
	return calls
}

// counts are calls sent and failed in one phase of a fault.
type counts struct{ sent, failed int }

// faultReport sums up the calls around one fault.
type faultReport struct {
	before, during, after counts
	// recovery is from the fault's end to the first call after the last
	// failed one (zero when none failed after the fault began).
	recovery time.Duration
}

func (r faultReport) String() string {
	return fmt.Sprintf("calls before the fault %d (failed %d), during %d (failed %d), after %d (failed %d); recovery %s after the fault ended",
		r.before.sent, r.before.failed, r.during.sent, r.during.failed, r.after.sent, r.after.failed, r.recovery.Round(10*time.Millisecond))
}

// summarize sorts the calls started in [from, to) into before, during and
// after the fault [faultStart, faultEnd) and measures the recovery.
func summarize(calls []testprog.Call, from, faultStart, faultEnd, to time.Time) faultReport {
	var r faultReport
	var lastFail *testprog.Call
	var recoveredAt time.Time
	for i := range calls {
		c := &calls[i]
		if c.Start.Before(from) || !c.Start.Before(to) {
			continue
		}
		phase := &r.after
		switch {
		case c.Start.Before(faultStart):
			phase = &r.before
		case c.Start.Before(faultEnd):
			phase = &r.during
		}
		phase.sent++
		if !c.OK {
			phase.failed++
			if !c.Start.Before(faultStart) {
				lastFail, recoveredAt = c, time.Time{}
			}
		} else if lastFail != nil && recoveredAt.IsZero() {
			recoveredAt = c.Start
		}
	}
	if lastFail != nil {
		if recoveredAt.IsZero() {
			recoveredAt = to // never recovered in the window
		}
		r.recovery = max(0, recoveredAt.Sub(faultEnd))
	}
	return r
}

// countLog counts the lines of p's log that contain s.
func countLog(t *testing.T, p *testhosts.Process, s string) int {
	t.Helper()
	data, err := os.ReadFile(p.Log)
	require.NoError(t, err)
	return strings.Count(string(data), s)
}
