//go:build linux

package multihost_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/internal/benchstats"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/zerotrust"
)

// The programs BenchmarkAcrossHosts runs inside the hosts, one process
// per node, each given a benchSpec as JSON:
//
//	MULTIHOST_SDK=bench-server SPEC   on node A: the same handler served
//	                                  by a ztedge service (zerotrust.New,
//	                                  Serve), by the raw SDK (Listen and
//	                                  net/http) and by net/http on TCP;
//	                                  logs "bench server ready"
//	MULTIHOST_SDK=bench-client SPEC   on node B: a client for each of the
//	                                  three, warmed up; logs "bench client
//	                                  warm", waits for a line on stdin,
//	                                  measures them in rotating rounds and
//	                                  logs "bench result JSON"; exits when
//	                                  stdin closes
func benchHelper(mode string, args []string) (int, bool) {
	switch mode {
	case "bench-server", "bench-client":
	default:
		return 0, false
	}
	var spec benchSpec
	if len(args) != 1 {
		fmt.Println("usage: SPEC (JSON)")
		return 2, true
	}
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		fmt.Println("bench spec:", err)
		return 2, true
	}
	var err error
	if mode == "bench-server" {
		err = benchServer(spec)
	} else {
		err = benchClient(spec)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1, true
	}
	return 0, true
}

// benchSpec tells the helpers what to serve and call, and how much.
type benchSpec struct {
	// Config is the ztedge service's configuration file; Peer the service
	// the client calls (a zerotrust client of Config).
	Config, Peer string
	// RawIdentity is the enrolled identity file of the raw SDK side;
	// RawService the Ziti service it binds or dials.
	RawIdentity, RawService string
	// TCPAddr is where the server listens for plain TCP (node A's IP).
	TCPAddr string
	// Rounds of each implementation; per round: Sequential small requests
	// one after the other, Concurrent small requests with Workers in
	// flight, and Transfers 1 MiB answers one after the other.
	Rounds, Sequential, Concurrent, Workers, Transfers int
}

// The implementations compared, in the order of the table.
var benchImpls = []string{"ztedge", "raw-sdk", "plain-tcp"}

const mib = 1 << 20

// benchHandler is what all three servers serve: GET /small answers "ok",
// GET /mib answers 1 MiB.
func benchHandler() http.Handler {
	body := make([]byte, mib)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /mib", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	return mux
}

// helperLogger writes warnings and errors to the helper's log.
func helperLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func benchServer(spec benchSpec) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := benchHandler()

	cfg, err := zerotrust.LoadConfig(spec.Config)
	if err != nil {
		return err
	}
	serving := make(chan struct{})
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: helperLogger(),
		OnServing: func(net.Addr, net.Addr) { close(serving) }})
	if err != nil {
		return err
	}
	defer svc.Close()
	served := make(chan error, 3)
	go func() { served <- fmt.Errorf("ztedge serve: %w", svc.Serve(ctx, h)) }()

	zctx, err := ziti.NewContextFromFile(spec.RawIdentity)
	if err != nil {
		return fmt.Errorf("raw sdk: load identity: %w", err)
	}
	defer zctx.Close()
	rl, err := zctx.Listen(spec.RawService)
	if err != nil {
		return fmt.Errorf("raw sdk: listen on %s: %w", spec.RawService, err)
	}
	go func() { served <- fmt.Errorf("raw sdk serve: %w", http.Serve(rl, h)) }()

	tl, err := net.Listen("tcp", spec.TCPAddr)
	if err != nil {
		return err
	}
	go func() { served <- fmt.Errorf("plain tcp serve: %w", http.Serve(tl, h)) }()

	select {
	case <-serving:
	case err := <-served:
		return err
	case <-time.After(2 * time.Minute):
		return errors.New("the ztedge service did not start serving within 2 minutes")
	}
	fmt.Println("bench server ready")
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// benchTarget is one implementation's client and the base URL it calls.
type benchTarget struct {
	name   string
	client *http.Client
	base   string
}

func benchClient(spec benchSpec) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := zerotrust.LoadConfig(spec.Config)
	if err != nil {
		return err
	}
	peer, ok := cfg.Clients[spec.Peer]
	if !ok {
		return fmt.Errorf("the configuration has no client %q", spec.Peer)
	}
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: helperLogger(), RequestTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer svc.Close()

	zctx, err := ziti.NewContextFromFile(spec.RawIdentity)
	if err != nil {
		return fmt.Errorf("raw sdk: load identity: %w", err)
	}
	defer zctx.Close()
	// net/http over the SDK, capped at as many connections as ztedge's
	// pool (16 per peer): uncapped, net/http dials anew whenever no idle
	// connection is free at that instant, and a Ziti dial costs a circuit.
	raw := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return zctx.DialContext(ctx, spec.RawService)
		},
		MaxConnsPerHost: spec.Workers, MaxIdleConnsPerHost: spec.Workers,
	}}
	plain := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxConnsPerHost: spec.Workers, MaxIdleConnsPerHost: spec.Workers,
	}}
	rawService, _ := naming.ServiceOf(spec.RawService)
	targets := []benchTarget{
		{benchImpls[0], svc.HTTPClient(), peer.BaseURL()},
		{benchImpls[1], raw, "http://" + naming.InterceptHost(rawService)},
		{benchImpls[2], plain, "http://" + spec.TCPAddr},
	}
	for _, t := range targets {
		if err := warm(ctx, t, spec.Workers); err != nil {
			return err
		}
	}
	fmt.Println("bench client warm")
	stdin := bufio.NewReader(os.Stdin)
	if _, err := stdin.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go: %w", err)
	}

	results := map[string][]benchSample{}
	var failed error
	runs := make([]func(), len(targets))
	for i, t := range targets {
		runs[i] = func() {
			if failed != nil {
				return
			}
			s, err := measure(t, spec)
			if err != nil {
				failed = fmt.Errorf("%s: %w", t.name, err)
				return
			}
			fmt.Printf("round %d %s: %s\n", len(results[t.name])+1, t.name, s)
			results[t.name] = append(results[t.name], s)
		}
	}
	benchstats.Rotate(spec.Rounds, runs...)
	if failed != nil {
		return failed
	}
	out, err := json.Marshal(results)
	if err != nil {
		return err
	}
	fmt.Printf("bench result %s\n", out)
	_, _ = io.Copy(io.Discard, stdin) // until the benchmark has read it
	return nil
}

// warm calls t until it answers (services and terminators may take a
// moment to be known), then opens its connections with workers requests
// at once.
func warm(ctx context.Context, t benchTarget, workers int) error {
	var err error
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, err = fetch(t, "/small", 2); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("warm up %s: %w", t.name, err)
		}
		fmt.Printf("warm up %s (retrying): %v\n", t.name, err)
	}
	for range 3 {
		if _, err := inParallel(t, workers, workers, "/small", 2); err != nil {
			return fmt.Errorf("warm up %s with %d in flight: %w", t.name, workers, err)
		}
	}
	if _, err := fetch(t, "/mib", mib); err != nil {
		return fmt.Errorf("warm up %s with 1 MiB: %w", t.name, err)
	}
	return nil
}

// benchSample is one round of one implementation.
type benchSample struct {
	SeqRate, SeqP50, SeqP99    float64 // requests/s, µs, µs
	ConcRate, ConcP50, ConcP99 float64 // requests/s, µs, µs
	MBps                       float64 // 1 MiB transfers, 10^6 bytes/s
}

func (s benchSample) String() string {
	return fmt.Sprintf("sequential %.0f/s p50 %.0fµs p99 %.0fµs; concurrent %.0f/s p50 %.0fµs p99 %.0fµs; 1 MiB %.1f MB/s",
		s.SeqRate, s.SeqP50, s.SeqP99, s.ConcRate, s.ConcP50, s.ConcP99, s.MBps)
}

func measure(t benchTarget, spec benchSpec) (benchSample, error) {
	var s benchSample
	lat := make([]time.Duration, 0, spec.Sequential)
	start := time.Now()
	for range spec.Sequential {
		d, err := fetch(t, "/small", 2)
		if err != nil {
			return s, err
		}
		lat = append(lat, d)
	}
	s.SeqRate = float64(spec.Sequential) / time.Since(start).Seconds()
	s.SeqP50, s.SeqP99 = micros(benchstats.Percentile(lat, 50)), micros(benchstats.Percentile(lat, 99))

	start = time.Now()
	lat, err := inParallel(t, spec.Workers, spec.Concurrent, "/small", 2)
	if err != nil {
		return s, err
	}
	s.ConcRate = float64(len(lat)) / time.Since(start).Seconds()
	s.ConcP50, s.ConcP99 = micros(benchstats.Percentile(lat, 50)), micros(benchstats.Percentile(lat, 99))

	start = time.Now()
	for range spec.Transfers {
		if _, err := fetch(t, "/mib", mib); err != nil {
			return s, err
		}
	}
	s.MBps = float64(spec.Transfers*mib) / 1e6 / time.Since(start).Seconds()
	return s, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// inParallel makes n requests for path with workers in flight and returns
// their latencies.
func inParallel(t benchTarget, workers, n int, path string, size int) ([]time.Duration, error) {
	per := max(n/workers, 1)
	lats := make([][]time.Duration, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				d, err := fetch(t, path, size)
				if err != nil {
					errs[w] = err
					return
				}
				lats[w] = append(lats[w], d)
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, errors.Join(errs...)
}

// fetch does a GET of t's path, reads the whole answer, checks it is 200
// with size bytes and returns the time it took.
func fetch(t benchTarget, path string, size int) (time.Duration, error) {
	start := time.Now()
	resp, err := t.client.Get(t.base + path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	switch {
	case err != nil:
		return 0, fmt.Errorf("GET %s: read the answer: %w", path, err)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
	case n != int64(size):
		return 0, fmt.Errorf("GET %s: %d bytes, want %d", path, n, size)
	}
	return d, nil
}
