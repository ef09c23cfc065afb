package tunnel

import (
	"net"
	"sync"
	"time"
)

// defaultMaxConns bounds the connections a tunnel serves at once, forwards
// and HTTP proxy together: each costs a goroutine or two and a dial over
// the overlay, and whoever can connect could otherwise open them without
// end. Over the bound, each listener holds one accepted connection and the
// rest wait in the listen backlog until a connection ends.
const defaultMaxConns = 1024

// fullLogEvery bounds how often the tunnel says it is full.
const fullLogEvery = 10 * time.Second

// acquire takes a connection slot for a connection just accepted, waiting
// for one when all are taken (the listener accepts nothing meanwhile); it
// returns false, taking none, once the tunnel closes.
func (t *Tunnel) acquire() bool {
	select {
	case t.slots <- struct{}{}:
		return true
	default:
	}
	t.mu.Lock()
	say := time.Since(t.fullLogged) >= fullLogEvery
	if say {
		t.fullLogged = time.Now()
	}
	t.mu.Unlock()
	if say {
		t.log.printf("%d connections open, the most this tunnel serves at once: new connections wait until one ends", cap(t.slots))
	}
	select {
	case t.slots <- struct{}{}:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// release gives back a slot taken by acquire.
func (t *Tunnel) release() { <-t.slots }

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
