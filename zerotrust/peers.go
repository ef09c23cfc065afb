package zerotrust

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/transport"
)

// peerTracker names peers by address for metrics and logs, and logs each
// peer's changes between reachable and unreachable once, not each failure.
type peerTracker struct {
	names   map[string]string // "host:port" (host in lower case) -> client name
	byHost  map[string]*peer  // see peerKeys
	log     *slog.Logger
	metrics *metrics.Metrics

	mu          sync.Mutex
	unreachable map[string]bool
}

func newPeerTracker(cfg *Config, log *slog.Logger, m *metrics.Metrics) *peerTracker {
	p := &peerTracker{names: map[string]string{}, byHost: map[string]*peer{}, log: log, metrics: m, unreachable: map[string]bool{}}
	for name, c := range cfg.Clients {
		keys := peerKeys(c.Host, c.Port)
		p.names[keys[0]] = name
		pr := &peer{name: name, jwt: c.sendJWT, metrics: m.Peer(name)}
		for _, k := range keys {
			p.byHost[k] = pr
		}
	}
	return p
}

// lookup is the configured peer a request goes to, nil for none.
func (p *peerTracker) lookup(req *http.Request) *peer {
	if pr, ok := p.byHost[req.URL.Host]; ok && (req.URL.Scheme == "http" || req.URL.Port() != "") {
		return pr
	}
	return p.byHost[hostPort(req)]
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
