package provisioning

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanSummaryAndOutput(t *testing.T) {
	p := &Plan{Changes: []Change{
		{Op: OpCreate, Kind: "ziti identity", Name: "a"},
		{Op: OpUpdate, Kind: "ziti service", Name: "edgex.a", Detail: "configs differ"},
		{Op: OpDelete, Kind: "vault policy", Name: "ztedge-b"},
	}}
	assert.Equal(t, "1 to create, 1 to update, 1 to delete", p.Summary())
	var b strings.Builder
	_, err := p.WriteTo(&b)
	require.NoError(t, err)
	assert.Contains(t, b.String(), "update ziti service edgex.a (configs differ)")
	b.Reset()
	_, _ = (&Plan{}).WriteTo(&b)
	assert.Contains(t, b.String(), "No changes")
}

func TestPlanRunsStagesInOrderAndChainsInSequence(t *testing.T) {
	var mu sync.Mutex
	var log []string
	var running, peak atomic.Int32
	step := func(name string) func(context.Context) error {
		return func(context.Context) error {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			log = append(log, name)
			mu.Unlock()
			running.Add(-1)
			return nil
		}
	}
	var changes []Change
	for _, svc := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		for _, k := range []string{"1", "2", "3"} {
			changes = append(changes, Change{Op: OpCreate, Name: svc + k, stage: 1, chain: svc, apply: step(svc + k)})
		}
	}
	changes = append(changes, Change{Op: OpCreate, Name: "first", stage: 0, apply: step("first")})
	changes = append(changes, Change{Op: OpCreate, Name: "last", stage: 2, apply: step("last")})
	var reported atomic.Int32
	require.NoError(t, (&Plan{Changes: changes}).execute(t.Context(), func(Change) { reported.Add(1) }))

	assert.Equal(t, int32(len(changes)), reported.Load(), "every change is reported once")
	assert.Equal(t, "first", log[0])
	assert.Equal(t, "last", log[len(log)-1])
	pos := map[string]int{}
	for i, n := range log {
		pos[n] = i
	}
	for _, svc := range []string{"a", "f", "l"} {
		assert.Less(t, pos[svc+"1"], pos[svc+"2"], "a chain runs in plan order")
		assert.Less(t, pos[svc+"2"], pos[svc+"3"])
	}
	assert.Greater(t, peak.Load(), int32(1), "chains run concurrently")
	assert.LessOrEqual(t, peak.Load(), int32(maxParallel), "at most maxParallel at once")
}

func TestPlanStopsAtTheFirstFailureAndNamesIt(t *testing.T) {
	ran := atomic.Bool{}
	p := &Plan{Changes: []Change{
		{Op: OpCreate, Kind: "vault policy", Name: "ztedge-a", stage: 0, apply: func(context.Context) error { return errors.New("denied") }},
		{Op: OpCreate, Kind: "ziti identity", Name: "a", stage: 1, apply: func(context.Context) error { ran.Store(true); return nil }},
	}}
	err := p.execute(t.Context(), nil)
	assert.EqualError(t, err, `create vault policy "ztedge-a": denied`)
	assert.False(t, ran.Load(), "a later stage does not start after a failure")
}

func TestSequenceKeepsPartsApart(t *testing.T) {
	a := []Change{{Name: "a0", stage: 0}, {Name: "a3", stage: 3}}
	b := []Change{{Name: "b50", stage: 50}, {Name: "b0", stage: 0}}
	got := sequence(a, b)
	stages := map[string]int{}
	for _, c := range got {
		stages[c.Name] = c.stage
	}
	assert.Equal(t, map[string]int{"a0": 0, "a3": 1, "b0": 2, "b50": 3}, stages)
}
