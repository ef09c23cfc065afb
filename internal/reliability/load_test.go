//go:build linux

package reliability_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/ztedge/ztedge/internal/testprog"
)

// loadLog reads the client's log of requests.
type loadLog struct{ path string }

// since returns the requests that started at or after t.
func (l *loadLog) since(t time.Time) []testprog.Call {
	calls, _ := testprog.ReadLoad(l.path) // not written yet: none
	var out []testprog.Call
	for _, c := range calls {
		if !c.Start.Before(t) {
			out = append(out, c)
		}
	}
	return out
}

// outcome is what the load saw across one fault.
type outcome struct {
	name                    string
	sentDuring, failDuring  int
	sentAfter, failAfter    int           // after recovery
	failBeforeRecovery      int           // after the fault ended, before the first success
	recovery                time.Duration // from the fault's end to the first request that passed
	recovered               bool
	instances               []string // server instances that answered after recovery
	firstFailures           []string // a few reasons, for the log
	latencies               []time.Duration
	faultLength, settleTime time.Duration
}

// String is the outcome in one line, for the test log and the docs.
func (o outcome) String() string {
	rec := "not recovered"
	if o.recovered {
		rec = "back " + o.recovery.Round(100*time.Millisecond).String() + " after the fault ended"
	}
	return fmt.Sprintf("%s: fault %s; during it %d sent, %d failed; %s (%d failed meanwhile); after recovery %d sent, %d failed",
		o.name, o.faultLength.Round(100*time.Millisecond), o.sentDuring, o.failDuring, rec, o.failBeforeRecovery, o.sentAfter, o.failAfter)
}

// classify sorts the requests that started from start on: during the fault
// [start, end), then after end until the first success (recovery), then
// after recovery.
func classify(name string, reqs []testprog.Call, start, end time.Time) outcome {
	o := outcome{name: name, faultLength: end.Sub(start)}
	for _, r := range reqs {
		if r.Start.Before(start) {
			continue
		}
		o.latencies = append(o.latencies, r.Latency)
		switch {
		case r.Start.Before(end):
			o.sentDuring++
			if !r.OK {
				o.failDuring++
				o.noteFailure(r)
			}
		case !o.recovered && !r.OK:
			o.failBeforeRecovery++
			o.noteFailure(r)
		case !o.recovered:
			o.recovered, o.recovery = true, max(0, r.Start.Sub(end))
			fallthrough
		default:
			o.sentAfter++
			if !r.OK {
				o.failAfter++
				o.noteFailure(r)
			} else if !slices.Contains(o.instances, r.Instance) {
				o.instances = append(o.instances, r.Instance)
			}
		}
	}
	return o
}

func (o *outcome) noteFailure(r testprog.Call) {
	if len(o.firstFailures) < 3 {
		o.firstFailures = append(o.firstFailures, r.Start.Format("15:04:05.000")+" "+r.Outcome)
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
