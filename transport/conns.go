package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DialFunc opens a connection, like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ConnPool is an HTTP/1.1 http.RoundTripper for peers on the overlay. It
// keeps at most MaxConnsPerPeer connections to each peer, reuses them
// (keep-alive), and writes each request and reads its response in the
// caller's goroutine.
//
// Why not http.Transport: a Ziti connection is costly to open and cheap to
// use, and the goroutine hand-offs of http.Transport (a writer and a reader
// goroutine per connection) measurably slow small requests on the small
// machines edge services run on; see docs/performance.md. Everything that
// parses or formats HTTP is net/http's (Request.Write, ReadResponse).
type ConnPool struct {
	dial     DialFunc
	maxConns int
	idleTime time.Duration

	mu    sync.Mutex
	peers map[string]*peerConns
}

type peerConns struct {
	slots chan struct{} // one token per open (or opening) connection
	idle  []*poolConn   // most recently used last
	wake  chan struct{} // closed (and replaced) when a connection is returned or closed
	// waited says a request took wake to wait on since it was last
	// replaced: without one, notify need not replace it.
	waited bool
}

// notify wakes the requests waiting for a connection. Call with p.mu held.
func (pc *peerConns) notify() {
	if pc.waited {
		close(pc.wake)
		pc.wake, pc.waited = make(chan struct{}), false
	}
}

type poolConn struct {
	net.Conn
	written  int64        // bytes of the current request written to Conn
	writeErr error        // the error of writing to Conn, if any
	limit    *headerLimit // under br
	br       *bufio.Reader
	bw       *bufio.Writer
	addr     string
	idleFrom time.Time
}

// NewConnPool returns a pool that opens connections with dial, at most
// maxConns per peer (MaxConnsPerPeer if 0), and closes connections idle
// for longer than idleTimeout (90 s if 0).
func NewConnPool(dial DialFunc, maxConns int, idleTimeout time.Duration) *ConnPool {
	if maxConns <= 0 {
		maxConns = MaxConnsPerPeer
	}
	if idleTimeout <= 0 {
		idleTimeout = 90 * time.Second
	}
	return &ConnPool{dial: dial, maxConns: maxConns, idleTime: idleTimeout, peers: map[string]*peerConns{}}
}

// Failures on a connection before any response byte arrived: on a reused
// connection they mostly mean that the peer closed it while it was idle.
var (
	errNothingWritten       = errors.New("transport: the request could not be sent")
	errNoResponse           = errors.New("transport: the connection broke before a response")
	maxDrain          int64 = 256 << 10
)

// RoundTrip sends req over a pooled connection to its host.
func (p *ConnPool) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		closeBody(req)
		return nil, fmt.Errorf("transport: scheme %q is not supported over the overlay (use http: the overlay encrypts)", req.URL.Scheme)
	}
	if err := checkRequest(req); err != nil {
		closeBody(req)
		return nil, err
	}
	addr := canonicalAddr(req)
	for attempt := 0; ; attempt++ {
		c, err := p.get(req.Context(), addr, attempt > 0)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := p.exchange(c, req)
		if err == nil {
			return resp, nil
		}
		p.discard(c)
		// The connection broke before a response started (the peer closed
		// it while idle, its router went away). Send the request once more,
		// on a fresh connection, when that cannot apply it twice: nothing
		// of it was written, or it is idempotent (see replayable).
		retry := errors.Is(err, errNothingWritten) || (errors.Is(err, errNoResponse) && replayable(req))
		if attempt > 0 || !retry || !rewindable(req) || req.Context().Err() != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// rewindable reports whether req's body can be sent again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replayable reports whether req may be sent twice without harm, as
// net/http decides: safe methods, or an idempotency key.
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// exchange writes req on c and reads the response head. The response body
// gives c back to the pool when read to the end, or closes it.
func (p *ConnPool) exchange(c *poolConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	c.written, c.writeErr = 0, nil
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	switch {
	case err != nil && c.writeErr != nil && c.written == 0:
		return fail(fmt.Errorf("%w: %v", errNothingWritten, err))
	case err != nil && c.writeErr != nil:
		return fail(fmt.Errorf("%w: %v", errNoResponse, err))
	case err != nil: // the request's own fault (its body failed, say)
		return fail(err)
	}
	if _, err := c.br.Peek(1); err != nil {
		return fail(fmt.Errorf("%w: %v", errNoResponse, err))
	}
	c.limit.limit()
	resp, err := http.ReadResponse(c.br, req)
	// Interim 1xx answers (100 Continue, 103 Early Hints) precede the
	// real response: skip them, as net/http does, their headers counting
	// towards the same limit as the final response's.
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(c.br, req)
	}
	c.limit.unlimit()
	if err != nil {
		if errors.Is(err, ErrResponseHeaderTooLarge) {
			return fail(ErrResponseHeaderTooLarge)
		}
		return fail(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		return fail(errors.New("transport: protocol upgrades are not supported"))
	}
	keep := !resp.Close && !req.Close
	resp.Body = &pooledBody{rc: resp.Body, conn: c.Conn, release: func(clean bool) {
		if !stop() && ctx.Err() != nil {
			clean = false // the deadline was set to abort: the connection is spent
		}
		if clean && keep {
			p.put(c)
		} else {
			p.discard(c)
		}
	}}
	return resp, nil
}

// get takes an idle connection to addr (unless fresh) or, when fewer than
// maxConns are open, dials one; otherwise it waits for a slot or ctx.
func (p *ConnPool) get(ctx context.Context, addr string, fresh bool) (*poolConn, error) {
	for {
		p.mu.Lock()
		pc := p.peers[addr]
		if pc == nil {
			pc = &peerConns{slots: make(chan struct{}, p.maxConns), wake: make(chan struct{})}
			p.peers[addr] = pc
		}
		now := time.Now()
		for len(pc.idle) > 0 {
			c := pc.idle[len(pc.idle)-1]
			pc.idle = pc.idle[:len(pc.idle)-1]
			idle := now.Sub(c.idleFrom)
			if !fresh && idle < p.idleTime && (idle < probeAfter || alive(c)) {
				p.mu.Unlock()
				return c, nil
			}
			c.Conn.Close()
			<-pc.slots
			pc.notify()
		}
		wake := pc.wake
		pc.waited = true
		p.mu.Unlock()
		select {
		case pc.slots <- struct{}{}:
			conn, err := p.dial(ctx, "tcp", addr)
			if err != nil {
				<-pc.slots
				return nil, err
			}
			c := &poolConn{Conn: conn, limit: &headerLimit{r: conn}, addr: addr}
			c.br, c.bw = bufio.NewReader(c.limit), bufio.NewWriter(countWriter{c})
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
			// A connection was returned or closed: look again.
		}
	}
}

// probeAfter is how long a connection may sit idle before it is checked
// for a close by the peer when it is taken again.
const probeAfter = 2 * time.Second

// alive reports whether an idle connection is still open: a read with a
// deadline a moment away times out on a live connection, and returns EOF
// (or unexpected data) at once on one the peer closed. (A deadline already
// past would fail the read before it looks at the connection.) A peer may close an idle
// connection at any time; a request that is not replayable (a POST) could
// not be retried after writing to it.
func alive(c *poolConn) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	_, err := c.br.Peek(1)
	var ne net.Error
	ok := errors.As(err, &ne) && ne.Timeout()
	return ok && c.SetReadDeadline(time.Time{}) == nil
}

func (p *ConnPool) put(c *poolConn) {
	_ = c.SetDeadline(time.Time{})
	c.idleFrom = time.Now()
	p.mu.Lock()
	pc := p.peers[c.addr]
	pc.idle = append(pc.idle, c)
	pc.notify()
	p.mu.Unlock()
}

func (p *ConnPool) discard(c *poolConn) {
	c.Conn.Close()
	p.mu.Lock()
	pc := p.peers[c.addr]
	<-pc.slots
	pc.notify()
	p.mu.Unlock()
}

// CloseIdleConnections closes every idle connection.
func (p *ConnPool) CloseIdleConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.peers {
		for _, c := range pc.idle {
			c.Conn.Close()
			<-pc.slots
		}
		pc.idle = nil
		pc.notify()
	}
}

// pooledBody releases its connection exactly once: clean when the body was
// read to EOF, spent when it was closed early or failed.
type pooledBody struct {
	rc      io.ReadCloser
	conn    net.Conn
	once    sync.Once
	release func(clean bool)
}

// drainTime bounds how long Close waits for the rest of a body.
const drainTime = 500 * time.Millisecond

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.once.Do(func() { b.release(true) })
	} else if err != nil {
		b.once.Do(func() { b.release(false) })
	}
	return n, err
}

// Close drains what is left of a small body so the connection can be
// reused, as net/http does, and closes the connection otherwise.
func (b *pooledBody) Close() error {
	first := false
	b.once.Do(func() {
		first = true
		// A peer that stalls mid-body must not block Close: bound the drain.
		_ = b.conn.SetReadDeadline(time.Now().Add(drainTime))
		if _, err := io.CopyN(io.Discard, b.rc, maxDrain); err == io.EOF {
			_ = b.rc.Close()
			b.release(true)
			return
		}
		b.release(false) // closes the connection, so rc.Close cannot block
		_ = b.rc.Close()
	})
	if !first {
		return b.rc.Close()
	}
	return nil
}

// canonicalAddr is the request's host:port, port 80 when none is given.
func canonicalAddr(req *http.Request) string {
	host, port := strings.ToLower(req.URL.Hostname()), req.URL.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port)
}

// countWriter counts the bytes written to a pooled connection.
type countWriter struct{ c *poolConn }

func (w countWriter) Write(p []byte) (int, error) {
	n, err := w.c.Conn.Write(p)
	w.c.written += int64(n)
	if err != nil {
		w.c.writeErr = err
	}
	return n, err
}
