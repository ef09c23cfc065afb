//go:build linux

package reliability_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

var soakFor = flag.Duration("soak", 2*time.Minute, "how long TestIntegrationSoak injects faults (go test -run Soak ./internal/reliability -soak 10m)")

// soakQuiet is the calm between two faults of the soak.
const soakQuiet = 10 * time.Second

// TestIntegrationSoak runs the deployment (the example topology's
// core-data and device-virtual, 30 s JWTs) under the client's steady load
// for -soak, injecting one fault after another at random, and reports the
// requests sent and failed, their latency and each recovery. It fails when
// a request fails after a recovery or the service does not come back.
func TestIntegrationSoak(t *testing.T) {
	stacktest.Integration(t)
	d := deploy(t)
	faults := []struct {
		name string
		run  func() outcome
	}{
		{"router restart", func() outcome {
			r := d.routers[[]string{"node-a1", "node-a2", "node-b"}[rand.IntN(3)]]
			down := time.Duration(2+rand.IntN(10)) * time.Second
			return d.fault(fmt.Sprintf("router %s down %s", r.name, down), func() {
				require.NoError(t, r.p.Stop())
				time.Sleep(down)
			}, func() {
				d.startRouter(r)
				d.waitRouterOnline(r.name)
			})
		}},
		{"link cut", func() outcome {
			node := d.nodeA
			if rand.IntN(2) == 1 {
				node = d.nodeB
			}
			down := time.Duration(5+rand.IntN(26)) * time.Second
			return d.fault(fmt.Sprintf("link of %s cut %s", node.Name, down), func() {
				require.NoError(t, node.LinkDown())
				time.Sleep(down)
			}, func() { require.NoError(t, node.LinkUp()) })
		}},
		{"controller restart", func() outcome {
			return d.fault("controller restart", func() { require.NoError(t, d.hub.Ziti.Stop()) }, func() { d.restartController(nil) })
		}},
		{"service killed", func() outcome {
			return d.fault("core-data killed", func() {
				require.NoError(t, syscall.Kill(-d.server.Cmd.Process.Pid, syscall.SIGKILL))
				<-d.server.Done()
			}, d.startServer)
		}},
	}

	began := time.Now()
	var outcomes []outcome
	for time.Since(began) < *soakFor {
		time.Sleep(soakQuiet)
		f := faults[rand.IntN(len(faults))]
		o := f.run()
		t.Log(o.String())
		for _, why := range o.firstFailures {
			t.Logf("  a failure: %s", why)
		}
		outcomes = append(outcomes, o)
		if !o.recovered {
			break
		}
	}
	time.Sleep(soakQuiet)
	reqs := d.load.since(began)
	var sent, failed, failDuring, failAfter int
	var lat []time.Duration
	for _, r := range reqs {
		sent++
		if r.OK {
			lat = append(lat, r.Latency)
		} else {
			failed++
		}
	}
	var recoveries []time.Duration
	for _, o := range outcomes {
		failDuring += o.failDuring + o.failBeforeRecovery
		failAfter += o.failAfter
		recoveries = append(recoveries, o.recovery.Round(100*time.Millisecond))
	}
	worst := time.Duration(0)
	for _, r := range recoveries {
		worst = max(worst, r)
	}
	t.Logf("soak summary: %s with %d faults; %d requests sent, %d failed (%d during faults or before recovery, %d after recovery); latency of passed requests p50 %s, p99 %s; recoveries %v (worst %s)",
		time.Since(began).Round(time.Second), len(outcomes), sent, failed, failDuring, failAfter,
		percentile(lat, 50).Round(10*time.Microsecond), percentile(lat, 99).Round(10*time.Microsecond), recoveries, worst)
	for _, o := range outcomes {
		assert.True(t, o.recovered, "%s: core-data answers again", o.name)
	}
	assert.Zero(t, failAfter, "requests failed after a recovery")
	d.checkLogs(t)
}
