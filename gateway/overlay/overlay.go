// Package overlay runs the NGINX gateway in front of services in zerotrust
// mode: it carries the gateway's backend traffic onto the Ziti overlay as
// the gateway's own Ziti identity.
//
// For every route whose upstream is "zerotrust:<service>" (see
// gateway.ZeroTrustPrefix), [Start] opens a forwarder on a free loopback
// port that connects each connection to the Ziti service as the identity in
// gateway.Config.ZitiIdentity (the tunnel of "ztedge tunnel", run in this
// process). It then starts NGINX with those ports as the routes' upstreams,
// and [Gateway.Stop] stops NGINX first, then the forwarder. The forwarder
// listens on loopback only: no backend port is reachable from other hosts,
// and the zerotrust services themselves still listen on no port.
//
// The services see the gateway's identity as the connection's caller. The
// gateway passes on the user's JWT, so a service that requires JWTs and
// lists the gateway's identity in its TrustedRelays takes the JWT's name
// as the caller, with the gateway recorded as relay (caller.Info.Relay).
package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/internal/tunnel"
)

// Route is a gateway route whose upstream is a Ziti service.
type Route struct {
	// Route is the route's name, its key in gateway.Config.Services.
	Route string
	// Service is the Ziti service its connections go to.
	Service string
	// Addr is the loopback address of its forwarder, NGINX's upstream.
	Addr netip.AddrPort
	// Dialable is false when the gateway's identity could not dial the
	// service when the gateway started: its requests are answered 403
	// (or 502) with the reason until a Dial policy allows it.
	Dialable bool
}

// Gateway is NGINX and, when a route is zerotrust, the overlay forwarder
// behind it, started by [Start].
type Gateway struct {
	// Process is the running NGINX; its Config has OverlayAddrs filled in.
	*gateway.Process
	// Identity is the name of the gateway's Ziti identity, "" when no route
	// is zerotrust.
	Identity string
	// Routes are the zerotrust routes, sorted by route name.
	Routes []Route

	tun    *tunnel.Tunnel
	cancel context.CancelFunc
	served chan error // the forwarder's Serve result
	done   chan struct{}
	err    error // set before done is closed

	stopping atomic.Bool // Stop was called: the forwarder's end is expected
	stopOnce sync.Once
	stopErr  error
}

// Start validates cfg, opens the forwarder for its zerotrust routes (none
// when it has none) authenticated with cfg.ZitiIdentity, fills in
// cfg.OverlayAddrs and starts NGINX with [gateway.Start]. If NGINX does
// not start, the forwarder is closed. ctx bounds only the start. logger
// may be nil; it also receives the forwarder's events (refused
// connections, edge routers lost and found).
func Start(ctx context.Context, cfg gateway.Config, logger *slog.Logger) (*Gateway, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := cfg
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{done: make(chan struct{}), served: make(chan error, 1)}
	if ups := c.OverlayUpstreams(); len(ups) > 0 {
		if err := g.openForwarder(ctx, &c, ups, logger); err != nil {
			return nil, err
		}
	}
	p, err := gateway.Start(ctx, c, logger)
	if err != nil {
		g.closeForwarder()
		return nil, err
	}
	g.Process = p
	go g.watch()
	return g, nil
}

// openForwarder opens the tunnel for ups on free loopback ports and
// records their addresses in c.
func (g *Gateway) openForwarder(ctx context.Context, c *gateway.Config, ups []gateway.OverlayUpstream, logger *slog.Logger) error {
	o := tunnel.Options{Log: &eventLog{logger: logger}}
	loopback := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	for _, u := range ups {
		o.Forwards = append(o.Forwards, tunnel.Forward{Name: u.Service, Listen: netip.AddrPortFrom(loopback, 0)})
	}
	tun, err := tunnel.Open(ctx, c.ZitiIdentity, o)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("gateway overlay: zitiIdentity: %w (add a client such as \"gateway\" to the topology, with dial rules to the services; ztedge provision apply writes its identity to <output>/clients/gateway.json)", err)
	}
	if err != nil {
		return fmt.Errorf("gateway overlay: zitiIdentity: %w", err)
	}
	g.tun, g.Identity = tun, tun.Identity()
	c.OverlayAddrs = map[string]netip.AddrPort{}
	for i, r := range tun.Routes() { // in the order of the forwards
		c.OverlayAddrs[ups[i].Route] = r.Addr
		g.Routes = append(g.Routes, Route{Route: ups[i].Route, Service: r.Service, Addr: r.Addr, Dialable: r.Dialable})
	}
	var sctx context.Context
	sctx, g.cancel = context.WithCancel(context.Background())
	go func() { g.served <- tun.Serve(sctx) }()
	return nil
}

// closeForwarder closes the forwarder, if open, and waits for it.
func (g *Gateway) closeForwarder() error {
	if g.tun == nil {
		return nil
	}
	g.cancel()
	_ = g.tun.Close()
	return <-g.served
}

// watch closes done when NGINX exits or the forwarder fails.
func (g *Gateway) watch() {
	var served <-chan error
	if g.tun != nil {
		served = g.served
	}
	select {
	case <-g.Process.Done():
		g.err = g.Process.Err()
	case err := <-served:
		g.served <- err // for closeForwarder
		if !g.stopping.Load() {
			g.err = fmt.Errorf("gateway overlay: the forwarder stopped: %v", err)
		}
	}
	close(g.done)
}

// Done is closed when NGINX has exited or the forwarder has failed: the
// gateway no longer works. Call [Gateway.Stop] then.
func (g *Gateway) Done() <-chan struct{} { return g.done }

// Err says why [Gateway.Done] was closed.
func (g *Gateway) Err() error {
	select {
	case <-g.done:
		return g.err
	default:
		return nil
	}
}

// Stop stops NGINX (gracefully, see gateway.Process.Stop), then closes the
// forwarder and every connection through it. It is safe to call more than
// once.
func (g *Gateway) Stop() error {
	g.stopOnce.Do(func() {
		g.stopping.Store(true)
		g.stopErr = errors.Join(g.Process.Stop(), g.closeForwarder())
	})
	return g.stopErr
}

// eventLog turns the forwarder's event lines ("15:04:05 ztedge tunnel:
// ...") into log records.
type eventLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []byte
}

// eventPrefix is the time and name the tunnel writes before each event.
var eventPrefix = regexp.MustCompile(`^\d\d:\d\d:\d\d ztedge tunnel: `)

func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := eventPrefix.ReplaceAllString(string(l.buf[:i]), "")
		l.buf = l.buf[i+1:]
		level := slog.LevelInfo
		if strings.HasPrefix(strings.ToLower(line), "warning") {
			level = slog.LevelWarn
		}
		l.logger.Log(context.Background(), level, "overlay forwarder", "event", line)
	}
}
