package testprog

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Call is one call of a service's load, as it printed it:
//
//	load N PEER START_MS LATENCY_US: OUTCOME
//
// with the call's start in Unix milliseconds and its duration in
// microseconds.
type Call struct {
	N       int
	Peer    string
	Start   time.Time
	Latency time.Duration
	// OK is true when the peer answered 200.
	OK bool
	// Instance is the instance of the peer process that answered (from
	// its /whoami answer), "" when none did.
	Instance string
	// Outcome is what the call printed: "STATUS BODY" or "error WHY".
	Outcome string
}

// End is when the call ended.
func (c Call) End() time.Time { return c.Start.Add(c.Latency) }

var (
	loadLine     = regexp.MustCompile(`(?m)^load (\d+) (\S+) (\d+) (\d+): (.*)$`)
	instanceWord = regexp.MustCompile(`; instance (\w+)$`)
)

// ReadLoad reads the load calls from a service's log, in the order they
// were printed.
func ReadLoad(logPath string) ([]Call, error) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	return parseLoad(string(data)), nil
}

func parseLoad(text string) []Call {
	var calls []Call
	for _, m := range loadLine.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		ms, _ := strconv.ParseInt(m[3], 10, 64)
		us, _ := strconv.ParseInt(m[4], 10, 64)
		c := Call{N: n, Peer: m[2], Start: time.UnixMilli(ms), Latency: time.Duration(us) * time.Microsecond,
			OK: strings.HasPrefix(m[5], "200 "), Outcome: m[5]}
		if c.OK {
			if im := instanceWord.FindStringSubmatch(m[5]); im != nil {
				c.Instance = im[1]
			}
		}
		calls = append(calls, c)
	}
	return calls
}
