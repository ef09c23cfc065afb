package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Options say what a tunnel listens on.
type Options struct {
	// Forwards are the local addresses forwarded to services.
	Forwards []Forward
	// HTTP is where the HTTP proxy for intercept names listens; the zero
	// value means no proxy.
	HTTP netip.AddrPort
	// AllowNonLoopback lets the tunnel listen on addresses other hosts may
	// reach. Whoever connects to them acts as the identity; Open then
	// writes a warning to Log.
	AllowNonLoopback bool
	// DialTimeout bounds each connection to a service. Default 15 s.
	DialTimeout time.Duration
	// Log receives one line per event: warnings, refused connections,
	// reconnections. Default os.Stderr.
	Log io.Writer

	// maxConns bounds the connections served at once (tests); 0 means
	// DefaultMaxConns.
	maxConns int
}

// Route is a listening address of a tunnel and the service it leads to.
type Route struct {
	// Name is the service as given in the Forward.
	Name string
	// Service is the Ziti service connections go to.
	Service string
	// Addr is the address the tunnel listens on (with the port picked,
	// if 0 was given).
	Addr netip.AddrPort
	// Dialable is false when the identity could not dial the service when
	// the tunnel opened; its connections are refused until a policy
	// allows them.
	Dialable bool
}

// Tunnel forwards local connections to Ziti services as one identity.
// Open makes it; Serve runs it until its context ends.
type Tunnel struct {
	ov          overlay
	log         *logger
	dialTimeout time.Duration
	routes      []Route
	lns         []net.Listener
	httpLn      net.Listener
	httpSrv     *http.Server
	// ctx ends when the tunnel closes, cancelling dials in progress.
	ctx    context.Context
	cancel context.CancelFunc

	// limit bounds the connections being served (see acquire).
	limit *Limit

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Open listens on the addresses of o, authenticates to the controller with
// the enrolled identity in identityFile (its certificate, trusting the
// controller only through the CA bundle in the file) and resolves the
// forwarded services. It refuses an address other than loopback unless
// o.AllowNonLoopback is set. The tunnel accepts nothing until Serve.
func Open(ctx context.Context, identityFile string, o Options) (*Tunnel, error) {
	return open(ctx, o, func(ctx context.Context, logf func(string, ...any)) (overlay, error) {
		return connect(ctx, identityFile, logf)
	})
}

// shutdownGrace bounds how long Close waits for connections to end.
const shutdownGrace = 5 * time.Second

// open is Open with the overlay made by dialOverlay.
func open(ctx context.Context, o Options, dialOverlay func(context.Context, func(string, ...any)) (overlay, error)) (*Tunnel, error) {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 15 * time.Second
	}
	if o.maxConns <= 0 {
		o.maxConns = DefaultMaxConns
	}
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	t := &Tunnel{log: &logger{w: o.Log}, dialTimeout: o.DialTimeout, conns: map[net.Conn]struct{}{}}
	t.limit = NewLimit(o.maxConns, "this tunnel", t.log.printf)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			t.cancel()
			t.closeListeners()
		}
	}()
	// Listen first: a port in use is reported before the controller is
	// asked anything.
	for _, f := range o.Forwards {
		ln, err := listen(f.Listen)
		if err != nil {
			return nil, fmt.Errorf("tunnel: listening on %s for %s: %w", f.Listen, f.Name, err)
		}
		t.lns = append(t.lns, ln)
		t.routes = append(t.routes, Route{Name: f.Name, Addr: addrOf(ln)})
	}
	if o.HTTP.IsValid() {
		ln, err := listen(o.HTTP)
		if err != nil {
			return nil, fmt.Errorf("tunnel: listening on %s for the HTTP proxy: %w", o.HTTP, err)
		}
		t.httpLn = ln
	}
	ov, err := dialOverlay(ctx, t.log.printf)
	if err != nil {
		return nil, err
	}
	t.ov = ov
	for i := range t.routes {
		t.resolve(&t.routes[i])
	}
	if t.httpLn != nil {
		t.httpSrv = t.newHTTPServer()
	}
	for _, a := range t.addrs() {
		if exposed(a.Addr()) {
			t.log.printf("WARNING: %s is reachable from other hosts: whoever connects to it acts as identity %q, with no credential of their own; keep it behind a firewall, or listen on 127.0.0.1", a, ov.identity())
		}
	}
	ok = true
	return t, nil
}

// checkOptions refuses options without listeners, with the same address
// twice, or with an exposed address that was not allowed.
func checkOptions(o Options) error {
	if len(o.Forwards) == 0 && !o.HTTP.IsValid() {
		return errors.New("tunnel: nothing to listen on: give a forward (SERVICE=[ADDRESS:]PORT) or an HTTP proxy address")
	}
	seen := map[netip.AddrPort]bool{}
	all := make([]netip.AddrPort, 0, len(o.Forwards)+1)
	for _, f := range o.Forwards {
		if err := checkServiceName(f.Name); err != nil {
			return fmt.Errorf("tunnel: forward to %q: %w", f.Name, err)
		}
		if !f.Listen.IsValid() {
			return fmt.Errorf("tunnel: forward to %q has no address to listen on", f.Name)
		}
		all = append(all, f.Listen)
	}
	if o.HTTP.IsValid() {
		all = append(all, o.HTTP)
	}
	for _, a := range all {
		if a.Port() != 0 && seen[a] {
			return fmt.Errorf("tunnel: %s is given twice", a)
		}
		seen[a] = true
		if exposed(a.Addr()) && !o.AllowNonLoopback {
			return fmt.Errorf("tunnel: %s is not a loopback address: anyone who can reach it would act as the tunnel's identity, with no credential of their own; listen on 127.0.0.1 (the default), or allow it explicitly (-allow-non-loopback) and keep it behind a firewall", a)
		}
	}
	return nil
}

// resolve picks the Ziti service of a route: the first candidate the
// identity may dial, else the first one, with a warning.
func (t *Tunnel) resolve(r *Route) {
	cands := candidates(r.Name)
	for _, c := range cands {
		if t.ov.permission(c) == dialable {
			r.Service, r.Dialable = c, true
			return
		}
	}
	r.Service = cands[0]
	reason := reasonUnlisted
	if t.ov.permission(r.Service) == bindOnly {
		reason = reasonBindOnly
	}
	t.log.printf("warning: identity %q may not dial the ziti service %q: %s; connections to %s are refused until a policy allows it",
		t.ov.identity(), r.Service, reason, r.Addr)
}

// Identity is the name of the identity the tunnel authenticated as.
func (t *Tunnel) Identity() string { return t.ov.identity() }

// Routes are the forwarded addresses, in the order given.
func (t *Tunnel) Routes() []Route { return append([]Route(nil), t.routes...) }

// HTTPAddr is the address of the HTTP proxy, if there is one.
func (t *Tunnel) HTTPAddr() (netip.AddrPort, bool) {
	if t.httpLn == nil {
		return netip.AddrPort{}, false
	}
	return addrOf(t.httpLn), true
}

// addrs are all the addresses the tunnel listens on.
func (t *Tunnel) addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, r := range t.routes {
		out = append(out, r.Addr)
	}
	if a, ok := t.HTTPAddr(); ok {
		out = append(out, a)
	}
	return out
}

// Serve accepts connections until ctx ends or Close is called, then
// closes the tunnel and returns nil. It returns an error if a listener
// fails for another reason.
func (t *Tunnel) Serve(ctx context.Context) error {
	errc := make(chan error, len(t.lns)+1)
	for i, ln := range t.lns {
		go func() { errc <- t.acceptLoop(ln, t.routes[i]) }()
	}
	if t.httpSrv != nil {
		go func() {
			err := t.httpSrv.Serve(limitedListener{Listener: t.httpLn, t: t})
			if errors.Is(err, http.ErrServerClosed) || t.isClosed() {
				err = nil
			}
			errc <- err
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	t.Close()
	return err
}

// acceptLoop serves one forwarded address until its listener is closed.
func (t *Tunnel) acceptLoop(ln net.Listener, r Route) error {
	for {
		c, err := Accept(t.ctx, ln, t.log.printf)
		if err != nil {
			return nil // closed
		}
		if !t.acquire() { // closed
			c.Close()
			return nil
		}
		if !t.spawn(c, func() { defer t.release(); t.forward(c, r) }) {
			t.release()
			c.Close()
			return nil
		}
	}
}

// forward connects one local connection to the route's service.
func (t *Tunnel) forward(c net.Conn, r Route) {
	defer t.untrack(c)
	ctx, cancel := context.WithTimeout(t.ctx, t.dialTimeout)
	zc, err := t.ov.dial(ctx, r.Service, nil)
	cancel()
	if err != nil {
		if t.ctx.Err() != nil {
			return // closing
		}
		t.log.printf("%s -> %s (%s): %v", c.RemoteAddr(), r.Addr, r.Name, err)
		refuse(c, err)
		return
	}
	if !t.track(zc) {
		zc.Close()
		return
	}
	defer t.untrack(zc)
	Pipe(c, zc)
}

// spawn tracks c and runs fn for it in a goroutine Close waits for; it
// returns false, running nothing, once the tunnel is closed.
func (t *Tunnel) spawn(c net.Conn, fn func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1) // under mu, so never concurrently with Close's Wait
	go func() {
		defer t.wg.Done()
		fn()
	}()
	return true
}

// track records an open connection for Close; false if already closed.
func (t *Tunnel) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

// untrack closes c and forgets it.
func (t *Tunnel) untrack(c net.Conn) {
	c.Close()
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

func (t *Tunnel) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Close stops listening, closes every open connection, waits a few
// seconds at most for their goroutines, and closes the overlay. It is safe
// to call more than once.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	conns := t.conns
	t.conns = map[net.Conn]struct{}{}
	t.mu.Unlock()
	t.cancel()
	t.closeListeners()
	if t.httpSrv != nil {
		_ = t.httpSrv.Close()
	}
	for c := range conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		t.log.printf("some connections did not end within %s; closing anyway", shutdownGrace)
	}
	if t.ov != nil {
		t.ov.close()
	}
	return nil
}

func (t *Tunnel) closeListeners() {
	for _, ln := range t.lns {
		ln.Close()
	}
	if t.httpLn != nil {
		t.httpLn.Close()
	}
}

// listen listens on exactly a: "tcp4" for an IPv4 address, so that
// 0.0.0.0 does not become a dual-stack [::].
func listen(a netip.AddrPort) (net.Listener, error) {
	network := "tcp6"
	if a.Addr().Is4() {
		network = "tcp4"
	}
	return net.Listen(network, a.String())
}

// addrOf is a listener's address.
func addrOf(ln net.Listener) netip.AddrPort {
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// logger writes timestamped lines, one event each.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s ztedge tunnel: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
}
