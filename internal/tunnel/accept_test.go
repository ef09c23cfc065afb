package tunnel

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedListener returns its results in order, then blocks until closed.
type scriptedListener struct {
	mu      sync.Mutex
	results []scriptedAccept
	closed  chan struct{}
	once    sync.Once
}

type scriptedAccept struct {
	c   net.Conn
	err error
}

func newScriptedListener(results ...scriptedAccept) *scriptedListener {
	return &scriptedListener{results: results, closed: make(chan struct{})}
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.results) > 0 {
		r := l.results[0]
		l.results = l.results[1:]
		l.mu.Unlock()
		return r.c, r.err
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *scriptedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *scriptedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func TestAcceptRetriesAfterAnError(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	ln := newScriptedListener(
		scriptedAccept{err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}},
		scriptedAccept{err: errors.New("another")},
		scriptedAccept{c: a},
	)
	var logged []string
	c, err := Accept(t.Context(), ln, func(format string, args ...any) { logged = append(logged, format) })
	require.NoError(t, err)
	assert.Same(t, a, c)
	assert.Len(t, logged, 2, "each error is logged")
}

func TestAcceptStopsWhenClosed(t *testing.T) {
	ln := newScriptedListener()
	ln.Close()
	_, err := Accept(t.Context(), ln, t.Logf)
	assert.ErrorIs(t, err, net.ErrClosed)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ln = newScriptedListener(scriptedAccept{err: syscall.EMFILE})
	_, err = Accept(ctx, ln, t.Logf)
	assert.ErrorIs(t, err, net.ErrClosed, "a cancelled context ends the retries")
}
