package provisioning

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkFleet provisions a generated fleet of N services on the real
// stack and reports, per N, the seconds an apply, a no-op re-apply and a
// destroy take. It is not part of the test suite's time budget; run it with
//
//	go test -run '^$' -bench Fleet -benchtime 1x -timeout 60m ./provisioning
//
// ZTEDGE_FLEET_SIZES (default "30,300,1000") chooses the sizes.
func BenchmarkFleet(b *testing.B) {
	st := sharedStack(b)
	for _, n := range fleetSizes(b) {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for k, v := range st.TopologyEnv(b.TempDir()) {
				b.Setenv(k, v)
			}
			base, err := LoadFile("../examples/topology.yaml")
			require.NoError(b, err)
			top := fleetTopology(base, n)
			require.NoError(b, top.Validate())
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			ctx := context.Background()
			var apply, noop, destroy time.Duration
			for b.Loop() {
				apply += timed(b, func() (*Plan, error) {
					p, err := New(ctx, top, logger)
					if err != nil {
						return nil, err
					}
					return p.Apply(ctx, kindClock(b, "apply"))
				}, false)
				noop += timed(b, func() (*Plan, error) {
					p, err := New(ctx, top, logger)
					if err != nil {
						return nil, err
					}
					return p.Apply(ctx, nil)
				}, true)
				destroy += timed(b, func() (*Plan, error) {
					p, err := New(ctx, top, logger)
					if err != nil {
						return nil, err
					}
					return p.Destroy(ctx, kindClock(b, "destroy"))
				}, false)
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
			b.ReportMetric(per(apply), "apply-s")
			b.ReportMetric(per(noop), "noop-s")
			b.ReportMetric(per(destroy), "destroy-s")
		})
	}
}

// timed runs fn and returns how long it took; wantEmpty says whether its
// plan must be empty (a converged re-apply) or not.
func timed(b *testing.B, fn func() (*Plan, error), wantEmpty bool) time.Duration {
	b.Helper()
	start := time.Now()
	plan, err := fn()
	d := time.Since(start)
	require.NoError(b, err)
	require.Equal(b, wantEmpty, plan.Empty(), "plan: %s", plan.Summary())
	return d
}

// fleetSizes reads ZTEDGE_FLEET_SIZES.
func fleetSizes(b *testing.B) []int {
	spec := os.Getenv("ZTEDGE_FLEET_SIZES")
	if spec == "" {
		spec = "30,300,1000"
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "ZTEDGE_FLEET_SIZES")
		out = append(out, n)
	}
	return out
}

// fleetTopology is base with n generated services in five groups, where
// each group may dial the next, and one operator client that may dial
// the first group.
func fleetTopology(base *Topology, n int) *Topology {
	t := *base
	t.Services, t.Clients, t.Dial = nil, []Client{{Name: "operator"}}, nil
	const groups = 5
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		t.Services = append(t.Services, Service{Name: name, Groups: []string{fmt.Sprintf("g%d", i%groups)}})
	}
	for g := range groups {
		t.Dial = append(t.Dial, DialRule{
			From: []string{fmt.Sprintf("%sg%d", GroupPrefix, g)},
			To:   []string{fmt.Sprintf("%sg%d", GroupPrefix, (g+1)%groups)},
		})
	}
	t.Dial = append(t.Dial, DialRule{From: []string{"operator"}, To: []string{GroupPrefix + "g0"}})
	t.SetDefaults()
	return &t
}

// kindClock returns a progress function that logs, under -v, when the
// first and last change of each kind finished, to show where a plan's
// time goes.
func kindClock(b *testing.B, what string) func(Change) {
	start := time.Now()
	first, last := map[string]time.Duration{}, map[string]time.Duration{}
	var order []string
	b.Cleanup(func() {
		for _, k := range order {
			b.Logf("%s: %-34s %6.2fs .. %6.2fs", what, k, first[k].Seconds(), last[k].Seconds())
		}
	})
	return func(c Change) {
		k := string(c.Op) + " " + c.Kind
		d := time.Since(start)
		if _, ok := first[k]; !ok {
			first[k] = d
			order = append(order, k)
		}
		last[k] = d
	}
}
