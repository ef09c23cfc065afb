package tunnel

import (
	"context"
	"errors"
	"net"
	"time"
)

// DefaultMaxConns bounds the connections a tunnel serves at once, forwards
// and HTTP proxy together: each costs a goroutine or two and a dial over
// the overlay, and whoever can connect could otherwise open them without
// end. Over the bound, each listener holds one accepted connection and the
// rest wait in the listen backlog until a connection ends. ztedge forward
// uses the same bound.
const DefaultMaxConns = 1024

// Accept accepts one connection on ln. An error other than the listener's
// closing (out of file descriptors and the like) is logged with logf and
// retried after a backoff that doubles from 5ms to 1s, so that a listener
// keeps serving once the cause goes away. It returns [net.ErrClosed] once
// ln is closed or ctx ends.
func Accept(ctx context.Context, ln net.Listener, logf func(format string, args ...any)) (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		logf("accepting on %s: %v; retrying in %s", ln.Addr(), err, backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, net.ErrClosed
		}
	}
}
