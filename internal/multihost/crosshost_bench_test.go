//go:build linux

package multihost_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/benchstats"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/toolchain"
)

// benchTCPPort is where node A serves plain TCP for the comparison.
const benchTCPPort = 8080

// BenchmarkAcrossHosts compares, in one run, a call from node B to node A
// over ztedge, over the raw OpenZiti SDK and over plain TCP, across the
// same veth link: Vault and the controller on a hub, an edge router on
// each node (multihost.JoinRouter), a server process on node A serving
// the same handler three ways and a client process on node B calling each
// (see benchHelper). The three are measured in rotating rounds and the
// medians printed as a table, with the ztedge/raw ratio. It builds
// everything itself and takes a few minutes:
//
//	go test -run '^$' -bench AcrossHosts -benchtime 1x -timeout 30m ./internal/multihost
//
// ZTEDGE_XHOST_ROUNDS sets the number of rounds (default 9, at least 5).
func BenchmarkAcrossHosts(b *testing.B) {
	stacktest.Integration(b)
	ctx := b.Context()
	rounds := benchRounds(b)
	tools, err := toolchain.EnsureAll(ctx, os.Stderr)
	require.NoError(b, err, "the pinned ziti and vault must build")
	ztedge := buildZtedge(b)

	n := testhosts.New(b, "hub", "node-a", "node-b")
	hubHost, nodeA, nodeB := n.Host("hub"), n.Host("node-a"), n.Host("node-b")
	hub, err := multihost.StartHub(ctx, hubHost, tools.Ziti, tools.Vault)
	require.NoError(b, err)
	// Without the quickstart's defaults no identity may use the hub's
	// router: each side reaches the overlay through its node's router.
	cli(b, hub, "edge", "delete", "edge-router-policy", "all-endpoints-public-routers")
	cli(b, hub, "edge", "delete", "service-edge-router-policy", "all-routers-all-services")
	for _, node := range []*testhosts.Host{nodeA, nodeB} {
		_, err := hub.JoinRouter(ctx, node, node.Name, node.Name)
		require.NoError(b, err)
	}
	topology, output := writeBenchTopology(b, hub)
	run(b, hubHost, ztedge, "provision", "apply", "-f", topology)

	server := benchSpec{
		Config:      writeServiceConfig(b, nodeA, hub, output, "alpha", 0),
		RawIdentity: filepath.Join(nodeA.Dir, "alpha-raw.json"),
		RawService:  naming.ZitiService("alpha-raw"),
		TCPAddr:     nodeA.Addr(benchTCPPort),
	}
	copyFile(b, credentials.IdentityPath(output, "alpha-raw"), server.RawIdentity, 0o600)
	client := benchSpec{
		Config:      writeServiceConfig(b, nodeB, hub, output, "beta", 0, "alpha"),
		Peer:        "alpha",
		RawIdentity: filepath.Join(nodeB.Dir, "beta-raw.json"),
		RawService:  server.RawService,
		TCPAddr:     server.TCPAddr,
		Rounds:      rounds,
		Sequential:  500,
		Concurrent:  2000,
		Workers:     16,
		Transfers:   20,
	}
	copyFile(b, credentials.IdentityPath(output, "beta-raw"), client.RawIdentity, 0o600)

	srv, _ := startHelper(b, nodeA, "bench-server", "bench-server", specJSON(b, server))
	waitLog(b, srv, "bench server ready", 3*time.Minute)
	cl, stdin := startHelper(b, nodeB, "bench-client", "bench-client", specJSON(b, client))
	defer stdin.Close()
	waitLog(b, cl, "bench client warm", 3*time.Minute)
	// The warm clients hold their connections: their circuits show the
	// path the measurement takes.
	paths := circuitPaths(b, hub)
	direct := len(paths) > 0
	for _, p := range paths {
		direct = direct && p == "node-b>node-a"
	}

	b.ResetTimer()
	_, err = fmt.Fprintln(stdin, "go")
	require.NoError(b, err)
	line := waitLog(b, cl, "bench result ", 60*time.Minute)
	b.StopTimer()
	var results map[string][]benchSample
	_, data, _ := strings.Cut(line, "bench result ")
	require.NoError(b, json.Unmarshal([]byte(data), &results))
	for _, impl := range benchImpls {
		require.Len(b, results[impl], rounds, impl)
	}

	fmt.Printf("\nAcross hosts: node-b calls node-a; %d rounds of each, rotating; medians. %s\n", rounds, time.Now().UTC().Format(time.RFC3339))
	if direct {
		fmt.Printf("Path: all %d Ziti circuits of the warm clients run node-b>node-a (router to router, the same veth link as plain TCP).\n", len(paths))
	} else {
		fmt.Printf("Path: NOT all Ziti circuits run node-b>node-a, the figures include another hop: %s\n", strings.Join(paths, ", "))
	}
	printAcrossHosts(b, results)
	printRounds(results)
	if !direct {
		b.Errorf("circuits %v: want node-b>node-a only", paths)
	}
}

// benchRounds reads ZTEDGE_XHOST_ROUNDS (default 9, at least 5).
func benchRounds(b *testing.B) int {
	v := os.Getenv("ZTEDGE_XHOST_ROUNDS")
	if v == "" {
		return 9
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, "ZTEDGE_XHOST_ROUNDS")
	require.GreaterOrEqual(b, n, 5, "ZTEDGE_XHOST_ROUNDS: at least 5 rounds")
	return n
}

func specJSON(b *testing.B, s benchSpec) string {
	data, err := json.Marshal(s)
	require.NoError(b, err)
	return string(data)
}

// printAcrossHosts prints the medians of each metric side by side, with
// the ratio of ztedge's median to the raw SDK's, and reports the main
// ones as benchmark metrics.
func printAcrossHosts(b *testing.B, results map[string][]benchSample) {
	rows := []struct {
		name, unit string
		get        func(benchSample) float64
		metric     string
	}{
		{"sequential", "req/s", func(s benchSample) float64 { return s.SeqRate }, "seq-req/s"},
		{"sequential", "p50 µs", func(s benchSample) float64 { return s.SeqP50 }, ""},
		{"sequential", "p99 µs", func(s benchSample) float64 { return s.SeqP99 }, ""},
		{"concurrent-16", "req/s", func(s benchSample) float64 { return s.ConcRate }, "conc16-req/s"},
		{"concurrent-16", "p50 µs", func(s benchSample) float64 { return s.ConcP50 }, ""},
		{"concurrent-16", "p99 µs", func(s benchSample) float64 { return s.ConcP99 }, ""},
		{"1 MiB transfer", "MB/s", func(s benchSample) float64 { return s.MBps }, "MiB-MB/s"},
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "load\tmetric\tztedge\traw SDK\tplain TCP\tztedge/raw\t")
	for _, r := range rows {
		med := map[string]float64{}
		for _, impl := range benchImpls {
			var xs []float64
			for _, s := range results[impl] {
				xs = append(xs, r.get(s))
			}
			med[impl] = benchstats.Median(xs)
		}
		ratio := med["ztedge"] / med["raw-sdk"]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.2f\t\n", r.name, r.unit,
			figure(med["ztedge"]), figure(med["raw-sdk"]), figure(med["plain-tcp"]), ratio)
		if r.metric != "" {
			b.ReportMetric(med["ztedge"], "ztedge-"+r.metric)
			b.ReportMetric(med["raw-sdk"], "raw-"+r.metric)
			b.ReportMetric(med["plain-tcp"], "tcp-"+r.metric)
		}
	}
	_ = w.Flush()
	fmt.Println("ztedge/raw: ratio of the medians; for req/s and MB/s above 1 is faster, for latencies below 1 is faster.")
}

// printRounds prints each round's rates, to show the spread behind the
// medians.
func printRounds(results map[string][]benchSample) {
	fmt.Println("Per round (sequential req/s | concurrent-16 req/s | 1 MiB MB/s):")
	for _, impl := range benchImpls {
		var seq, conc, mbps []string
		for _, s := range results[impl] {
			seq = append(seq, figure(s.SeqRate))
			conc = append(conc, figure(s.ConcRate))
			mbps = append(mbps, figure(s.MBps))
		}
		fmt.Printf("  %-9s  %s | %s | %s\n", impl, strings.Join(seq, " "), strings.Join(conc, " "), strings.Join(mbps, " "))
	}
	fmt.Println()
}

// figure formats a median with a precision that suits its size.
func figure(x float64) string {
	if x < 100 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// writeBenchTopology writes the hub's secrets and the benchmark's topology
// into the hub's folder and returns the topology file and the output
// folder: alpha (ztedge, Vault JWT) and alpha-raw (an enrolled identity
// for the raw SDK) pinned to node-a's router, beta and the client
// beta-raw to node-b's, beta may dial alpha and beta-raw alpha-raw.
func writeBenchTopology(b *testing.B, hub *multihost.Hub) (topology, output string) {
	dir := filepath.Join(hub.Host.Dir, "bench")
	topology, err := hub.WriteTopology(dir, "", `# BenchmarkAcrossHosts: routers joined with multihost.JoinRouter.
jwt:
  ttl: 1h
output: out
services:
  - name: alpha
    routers: ["#node-a"]
  - name: alpha-raw
    routers: ["#node-a"]
    auth: identity
  - name: beta
    routers: ["#node-b"]
clients:
  - name: beta-raw
    routers: ["#node-b"]
dial:
  - from: [beta]
    to: [alpha]
  - from: [beta-raw]
    to: [alpha-raw]
`)
	require.NoError(b, err)
	return topology, filepath.Join(dir, "out")
}
