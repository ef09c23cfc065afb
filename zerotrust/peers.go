package zerotrust

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/transport"
)

// peerTracker names peers by address for metrics and logs, and logs each
// peer's changes between reachable and unreachable once, not each failure.
type peerTracker struct {
	names   map[string]string // "host:port" (host in lower case) -> client name
	log     *slog.Logger
	metrics *metrics.Metrics

	mu          sync.Mutex
	unreachable map[string]bool
}

func newPeerTracker(cfg *Config, log *slog.Logger, m *metrics.Metrics) *peerTracker {
	p := &peerTracker{names: map[string]string{}, log: log, metrics: m, unreachable: map[string]bool{}}
	for name, c := range cfg.Clients {
		p.names[net.JoinHostPort(strings.ToLower(c.Host), strconv.Itoa(c.Port))] = name
	}
	return p
}

// name is the peer at addr, or addr itself.
func (p *peerTracker) name(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if n, ok := p.names[net.JoinHostPort(strings.ToLower(host), port)]; ok {
			return n
		}
	}
	return addr
}

// dial wraps an overlay dialer with metrics and state-change logs.
func (p *peerTracker) dial(next transport.DialFunc) transport.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		peer := p.name(addr)
		p.metrics.Dialed(peer, err)
		if ctx.Err() == nil { // a caller giving up says nothing of the peer
			p.changed(peer, err)
		}
		return c, err
	}
}

// changed logs when peer becomes unreachable or reachable again.
func (p *peerTracker) changed(peer string, err error) {
	p.mu.Lock()
	was := p.unreachable[peer]
	p.unreachable[peer] = err != nil
	p.mu.Unlock()
	switch {
	case err != nil && !was:
		p.log.Warn("peer unreachable", "peer", peer, "reason", err)
	case err == nil && was:
		p.log.Info("peer reachable again", "peer", peer)
	}
}

// observe wraps the client's round tripper with per-peer request metrics.
func (p *peerTracker) observe(next http.RoundTripper) http.RoundTripper {
	return observed{next: next, p: p}
}

type observed struct {
	next http.RoundTripper
	p    *peerTracker
}

func (o observed) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.RoundTrip(req)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	o.p.metrics.Requested(o.p.name(hostPort(req)), code, err, time.Since(start))
	return resp, err
}

func (o observed) CloseIdleConnections() {
	if c, ok := o.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// hostPort is the request's host:port, the port from the scheme when none.
func hostPort(req *http.Request) string {
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(req.URL.Hostname()), port)
}
