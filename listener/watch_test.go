package listener

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openziti/sdk-golang/ziti/edge"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeListener stands for sdk-golang's listener: conns to accept and an
// established count the test sets.
type fakeListener struct {
	edge.Listener // unused methods panic
	conns         chan net.Conn
	up            atomic.Bool
	closed        atomic.Bool
	once          sync.Once
	done          chan struct{}
}

func newFake() *fakeListener {
	f := &fakeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	f.up.Store(true)
	return f
}

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-f.conns:
		return c, nil
	case <-f.done:
		return nil, errors.New("closed")
	}
}
func (f *fakeListener) Close() error {
	f.once.Do(func() { f.closed.Store(true); close(f.done) })
	return nil
}
func (f *fakeListener) IsClosed() bool { return f.closed.Load() }
func (f *fakeListener) GetEstablishedCount() uint {
	if f.up.Load() {
		return 1
	}
	return 0
}

func TestLostBindIsBoundAnew(t *testing.T) {
	checkEvery = 10 * time.Millisecond
	defer func() { checkEvery = time.Second }()
	first, second := newFake(), newFake()
	var binds atomic.Int64
	var states []bool
	var mu sync.Mutex
	opts := BindOptions{RebindAfter: 50 * time.Millisecond, OnState: func(b bool) { mu.Lock(); states = append(states, b); mu.Unlock() }}
	w := newWatchedListener(nil, "edgex.core-data", first, opts, slog.New(slog.DiscardHandler))
	w.bind = func() (edge.Listener, error) {
		if binds.Add(1) == 1 {
			return nil, errors.New("router still down")
		}
		return second, nil
	}
	defer w.Close()

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { first.conns <- a }()
	c, err := w.Accept()
	require.NoError(t, err)
	assert.Equal(t, a, c)

	first.up.Store(false) // the router went away
	require.Eventually(t, func() bool { return second == w.current() }, 5*time.Second, 10*time.Millisecond)
	assert.True(t, first.IsClosed(), "the old bind is closed once the new one holds")
	assert.GreaterOrEqual(t, binds.Load(), int64(2), "a failed re-bind is retried")
	go func() { second.conns <- b }()
	c, err = w.Accept()
	require.NoError(t, err)
	assert.Equal(t, b, c, "Accept goes on with the new bind")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(states) >= 3 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	assert.Equal(t, []bool{true, false, true}, states[:3])
	mu.Unlock()

	require.NoError(t, w.Close())
	_, err = w.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.True(t, second.IsClosed())
}

func (w *watchedListener) current() edge.Listener {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}
