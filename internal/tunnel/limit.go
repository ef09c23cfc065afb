package tunnel

import (
	"context"
	"net"
	"sync"
	"time"
)

// fullLogEvery bounds how often the tunnel says it is full.
const fullLogEvery = 10 * time.Second

// Limit bounds how many connections are served at once: a connection
// takes a slot when accepted and gives it back when it ends. Over the
// bound, the accepting goroutine waits, so further connections wait in the
// listen backlog.
type Limit struct {
	slots      chan struct{}
	what       string
	logf       func(format string, args ...any)
	mu         sync.Mutex
	fullLogged time.Time // when Acquire last said all slots are taken
}

// NewLimit returns a [Limit] of n connections (at least 1). When all
// slots are taken, it says so with logf, at most every 10s, naming the
// server as what ("this tunnel").
func NewLimit(n int, what string, logf func(format string, args ...any)) *Limit {
	return &Limit{slots: make(chan struct{}, max(n, 1)), what: what, logf: logf}
}

// Acquire takes a slot for a connection just accepted, waiting for one
// when all are taken; it returns false, taking none, once ctx ends.
func (l *Limit) Acquire(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.mu.Lock()
	say := time.Since(l.fullLogged) >= fullLogEvery
	if say {
		l.fullLogged = time.Now()
	}
	l.mu.Unlock()
	if say {
		l.logf("%d connections open, the most %s serves at once: new connections wait until one ends", cap(l.slots), l.what)
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Release gives back a slot taken by Acquire.
func (l *Limit) Release() { <-l.slots }

// acquire takes a connection slot of the tunnel (see [Limit.Acquire]);
// it returns false once the tunnel closes.
func (t *Tunnel) acquire() bool { return t.limit.Acquire(t.ctx) }

// release gives back a slot taken by acquire.
func (t *Tunnel) release() { t.limit.Release() }

// limitedListener is the HTTP proxy's listener: each connection it
// accepts holds a slot until it is closed (hijacked CONNECT connections
// included).
type limitedListener struct {
	net.Listener
	t *Tunnel
}

func (l limitedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.t.acquire() {
		c.Close()
		return nil, net.ErrClosed
	}
	return &slotConn{Conn: c, release: sync.OnceFunc(l.t.release)}, nil
}

// slotConn gives its slot back when closed.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite half-closes the connection, as *net.TCPConn does.
func (c *slotConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
