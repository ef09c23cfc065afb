package testhosts

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Prefix starts the name of every namespace, bridge and veth this package
// creates, followed by the three hex digits of the run (see run).
const Prefix = "zth"

// Limits of one network.
const (
	// runs is the number of /24 networks in 198.18.0.0/15.
	runs = 512
	// MaxHosts is the most hosts one network can have: .1 to .254.
	MaxHosts = 254
	// maxNameLen bounds a host name, so that namespace names stay short.
	maxNameLen = 20
)

// benchmarkRange is 198.18.0.0/15, reserved for network benchmarks
// (RFC 2544): never routed, so test hosts cannot reach or shadow real ones.
var benchmarkRange = netip.MustParsePrefix("198.18.0.0/15")

// run numbers one network on this machine, 0 to 511. It selects the /24
// the network's hosts live in and names everything the network creates.
// Live runs hold a lock on their number, so no two live networks share a
// subnet or a name (see claim).
type run int

// id is the run as three hex digits, "000" to "1ff".
func (r run) id() string { return fmt.Sprintf("%03x", int(r)) }

// prefix starts every name of this run: "zth1a7".
func (r run) prefix() string { return Prefix + r.id() }

// bridge is the run's Linux bridge in the root namespace: "zth1a7".
func (r run) bridge() string { return r.prefix() }

// veth is the root-namespace end of host i's veth pair: "zth1a7-0". The
// other end is eth0 inside the host's namespace.
func (r run) veth(i int) string { return r.prefix() + "-" + strconv.Itoa(i) }

// netns is the network namespace of the host named name: "zth1a7-hub".
func (r run) netns(name string) string { return r.prefix() + "-" + name }

// subnet is the run's /24 inside 198.18.0.0/15.
func (r run) subnet() netip.Prefix {
	a := benchmarkRange.Addr().As4()
	a[1] += byte(int(r) >> 8)
	a[2] = byte(int(r) & 0xff)
	return netip.PrefixFrom(netip.AddrFrom4(a), 24)
}

// hostIP is the address of host i (0-based): .1, .2, ...
func (r run) hostIP(i int) netip.Addr {
	a := r.subnet().Addr().As4()
	a[3] = byte(i + 1)
	return netip.AddrFrom4(a)
}

// runOf returns the run a namespace or link name belongs to, if it is one
// of this package's names.
func runOf(name string) (run, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != '-') {
		return 0, false
	}
	n, err := strconv.ParseUint(rest[:3], 16, 16)
	if err != nil || n >= runs {
		return 0, false
	}
	return run(n), true
}

var hostNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// checkHostNames reports every problem with a list of host names at once.
func checkHostNames(names []string) error {
	var problems []string
	if len(names) == 0 {
		problems = append(problems, "no hosts given")
	}
	if len(names) > MaxHosts {
		problems = append(problems, fmt.Sprintf("%d hosts, at most %d fit in a /24", len(names), MaxHosts))
	}
	seen := map[string]bool{}
	for i, n := range names {
		switch {
		case !hostNameRE.MatchString(n):
			problems = append(problems, fmt.Sprintf("host %d: name %q must be lower-case letters, digits and '-', starting with a letter", i, n))
		case len(n) > maxNameLen:
			problems = append(problems, fmt.Sprintf("host %d: name %q is longer than %d characters", i, n, maxNameLen))
		case seen[n]:
			problems = append(problems, fmt.Sprintf("host %d: name %q is given twice", i, n))
		}
		seen[n] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("host names: %s", strings.Join(problems, "; "))
	}
	return nil
}
