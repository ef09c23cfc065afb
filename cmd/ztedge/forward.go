package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ztedge/ztedge/internal/tunnel"
	"github.com/ztedge/ztedge/zerotrust"
)

const forwardUsage = `usage: ztedge forward -config CONFIG.yaml PEER=[ADDRESS:]PORT ...

Runs as a ztedge service (its configuration, its Vault credentials or
identity file, its Ziti identity) without serving anything, and forwards
each local PORT to the service's zerotrust peer PEER with Service.Dial: a
dependency of the topology (a database or broker hosted by a router's
tunneler) or another service. PEER must be one of the configuration's
Clients in zerotrust mode; for a dependency, write Protocol: tcp and its
Port, as in

  Clients:
    redis:
      Protocol: tcp
      Port: 6379
      SecurityOptions:
        Mode: zerotrust

  ztedge forward -config beta.yaml redis=16379
  redis-cli -p 16379 PING

ADDRESS defaults to 127.0.0.1; only loopback addresses are accepted, as
whoever connects acts as the service. It runs until interrupted.

Flags:
`

// forwardDialTimeout bounds each connection to a peer.
const forwardDialTimeout = 15 * time.Second

// runForward implements "ztedge forward".
func runForward(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the service's configuration file (YAML), as zerotrust.LoadConfig reads it")
	fs.Usage = func() { fmt.Fprint(fs.Output(), forwardUsage); fs.PrintDefaults() }
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *config == "" {
		return usageError{"forward: -config CONFIG.yaml is required (the configuration of the service to act as)"}
	}
	if len(positional) == 0 {
		return usageError{"forward: nothing to forward: give PEER=[ADDRESS:]PORT arguments"}
	}
	cfg, err := zerotrust.LoadConfig(*config)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	routes, err := forwardRoutes(cfg, positional)
	if err != nil {
		return err
	}
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	defer svc.Close()
	var lc net.ListenConfig
	var wg sync.WaitGroup
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
		wg.Wait()
	}()
	fw := newForwarder(svc.Dial, tunnel.DefaultMaxConns, stderr)
	fmt.Fprintf(stdout, "Forwarding as service %q:\n", svc.Name())
	for _, r := range routes {
		l, err := lc.Listen(ctx, "tcp", r.listen.String())
		if err != nil {
			return fmt.Errorf("forward: %s: %w", r.peer, err)
		}
		listeners = append(listeners, l)
		fmt.Fprintf(stdout, "  %-22s -> %s (%s)\n", l.Addr(), r.peer, r.target)
		wg.Go(func() { fw.serve(ctx, l, r.target) })
	}
	fmt.Fprintln(stdout, "Listening on loopback only. Ctrl-C stops it.")
	<-ctx.Done()
	return nil
}

// forwardRoute is one local address forwarded to a peer.
type forwardRoute struct {
	peer   string
	target string // the peer's host:port, as Service.Dial takes it
	listen netip.AddrPort
}

// forwardRoutes checks the PEER=[ADDRESS:]PORT arguments against the
// configuration's zerotrust clients.
func forwardRoutes(cfg *zerotrust.Config, args []string) ([]forwardRoute, error) {
	var out []forwardRoute
	for _, a := range args {
		peer, addr, ok := strings.Cut(a, "=")
		if !ok {
			return nil, usageError{fmt.Sprintf("forward: %q: want PEER=[ADDRESS:]PORT, as in redis=16379", a)}
		}
		c, known := cfg.Clients[peer]
		switch {
		case !known:
			return nil, fmt.Errorf("forward: %q: the configuration has no client %q (add it under Clients, in zerotrust mode)", a, peer)
		case c.Mode() != zerotrust.ModeZeroTrust:
			return nil, fmt.Errorf("forward: %q: client %q is not in zerotrust mode", a, peer)
		}
		ap, err := tunnel.ParseListenAddr(addr)
		if err != nil {
			return nil, usageError{fmt.Sprintf("forward: %q: %v", a, err)}
		}
		if !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("forward: %q: %s is not a loopback address (whoever connects acts as the service)", a, ap.Addr())
		}
		out = append(out, forwardRoute{peer: peer, target: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), listen: ap})
	}
	return out, nil
}

// forwarder pipes the connections of ztedge forward's listeners to
// overlay connections, at most a tunnel's bound at once over all
// listeners, as a tunnel does.
type forwarder struct {
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	limit  *tunnel.Limit
	mu     sync.Mutex // serialises stderr
	stderr io.Writer
}

func newForwarder(dial func(ctx context.Context, network, addr string) (net.Conn, error), maxConns int, stderr io.Writer) *forwarder {
	f := &forwarder{dial: dial, stderr: stderr}
	f.limit = tunnel.NewLimit(maxConns, "ztedge forward", f.logf)
	return f
}

func (f *forwarder) logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.stderr, "forward: "+format+"\n", args...)
}

// serve serves one listener until it is closed or ctx ends: each
// connection is piped to a new overlay connection to target. Accept errors
// (out of file descriptors and the like) are retried with a backoff.
func (f *forwarder) serve(ctx context.Context, l net.Listener, target string) {
	for {
		c, err := tunnel.Accept(ctx, l, f.logf)
		if err != nil {
			return // closed
		}
		if !f.limit.Acquire(ctx) {
			c.Close()
			return
		}
		go func() {
			defer f.limit.Release()
			dctx, cancel := context.WithTimeout(ctx, forwardDialTimeout)
			zc, err := f.dial(dctx, "tcp", target)
			cancel()
			if err != nil {
				f.logf("%s: %v", target, err)
				c.Close()
				return
			}
			tunnel.Pipe(c, zc)
		}()
	}
}
