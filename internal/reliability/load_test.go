//go:build linux

package reliability_test

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// request is one request of the load, as the client logged it.
type request struct {
	start    time.Time
	latency  time.Duration
	ok       bool
	instance string // the server process that answered
	why      string // why it failed
}

// loadLog reads the client's log of requests.
type loadLog struct{ path string }

// since returns the requests that started at or after t.
func (l *loadLog) since(t time.Time) []request {
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 5)
		if len(fields) < 4 || fields[0] != "req" {
			continue
		}
		ms, err1 := strconv.ParseInt(fields[1], 10, 64)
		us, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		r := request{start: time.UnixMilli(ms), latency: time.Duration(us) * time.Microsecond, ok: fields[3] == "ok"}
		if len(fields) == 5 {
			if r.ok {
				r.instance = fields[4]
			} else {
				r.why = fields[4]
			}
		}
		if !r.start.Before(t) {
			out = append(out, r)
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
func classify(name string, reqs []request, start, end time.Time) outcome {
	o := outcome{name: name, faultLength: end.Sub(start)}
	for _, r := range reqs {
		if r.start.Before(start) {
			continue
		}
		o.latencies = append(o.latencies, r.latency)
		switch {
		case r.start.Before(end):
			o.sentDuring++
			if !r.ok {
				o.failDuring++
				o.noteFailure(r)
			}
		case !o.recovered && !r.ok:
			o.failBeforeRecovery++
			o.noteFailure(r)
		case !o.recovered:
			o.recovered, o.recovery = true, max(0, r.start.Sub(end))
			fallthrough
		default:
			o.sentAfter++
			if !r.ok {
				o.failAfter++
				o.noteFailure(r)
			} else if !slices.Contains(o.instances, r.instance) {
				o.instances = append(o.instances, r.instance)
			}
		}
	}
	return o
}

func (o *outcome) noteFailure(r request) {
	if len(o.firstFailures) < 3 {
		o.firstFailures = append(o.firstFailures, r.start.Format("15:04:05.000")+" "+r.why)
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
