package listener

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/edge"
)

// established is what sdk-golang's listener tells of its terminators.
type established interface {
	GetEstablishedCount() uint
}

// watchedListener is a bound Ziti service that binds itself anew when its
// bind is lost for too long. Accept reads from whichever SDK listener is
// current.
type watchedListener struct {
	bind    func() (edge.Listener, error) // binds the service once
	service string
	opts    BindOptions
	log     *slog.Logger
	conns   chan net.Conn
	done    chan struct{}

	mu     sync.Mutex
	cur    edge.Listener
	closed bool
}

// checkEvery is how often the bind is checked.
var checkEvery = time.Second

func newWatchedListener(zctx ziti.Context, service string, l edge.Listener, opts BindOptions, log *slog.Logger) *watchedListener {
	if opts.RebindAfter <= 0 {
		opts.RebindAfter = DefaultRebindAfter
	}
	w := &watchedListener{bind: func() (edge.Listener, error) { return bindOnce(zctx, service) }, service: service, opts: opts, log: log,
		conns: make(chan net.Conn), done: make(chan struct{}), cur: l}
	w.state(true)
	go w.accept(l)
	go w.watch()
	return w
}

func (w *watchedListener) state(bound bool) {
	if w.opts.OnState != nil {
		w.opts.OnState(bound)
	}
}

// accept hands l's connections to Accept until l is closed.
func (w *watchedListener) accept(l edge.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		select {
		case w.conns <- c:
		case <-w.done:
			c.Close()
			return
		}
	}
}

// watch re-binds the service when its bind has been lost for RebindAfter.
func (w *watchedListener) watch() {
	t := time.NewTicker(checkEvery)
	defer t.Stop()
	bound, lostAt, attempt := true, time.Time{}, 0
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.mu.Lock()
		cur := w.cur
		w.mu.Unlock()
		up := isEstablished(cur)
		switch {
		case up && !bound:
			bound, attempt = true, 0
			w.log.Info("ziti bind restored", "service", w.service)
			w.state(true)
		case !up && bound:
			bound, lostAt = false, time.Now()
			w.log.Warn("ziti bind lost: no edge router hosts the service now", "service", w.service)
			w.state(false)
		case !up && time.Since(lostAt) >= w.opts.RebindAfter:
			attempt++
			w.rebind(attempt)
			lostAt = time.Now().Add(backoff(attempt)) // the next attempt, if this one failed
		}
	}
}

// rebind binds the service anew and, once the new bind is established,
// closes the old one, so no moment is left without a terminator that a
// working router could use.
func (w *watchedListener) rebind(attempt int) {
	w.log.Info("binding the ziti service anew", "service", w.service, "attempt", attempt)
	l, err := w.bind()
	if err != nil {
		w.log.Warn("re-binding the ziti service failed; will retry", "service", w.service, "attempt", attempt, "err", err)
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		l.Close()
		return
	}
	old := w.cur
	w.cur = l
	w.mu.Unlock()
	old.Close()
	go w.accept(l)
}

// isEstablished reports whether l is open and holds an established bind.
func isEstablished(l edge.Listener) bool {
	if l.IsClosed() {
		return false
	}
	if e, ok := l.(established); ok {
		return e.GetEstablishedCount() > 0
	}
	return true
}

// Accept waits for the next overlay connection.
func (w *watchedListener) Accept() (net.Conn, error) {
	select {
	case c := <-w.conns:
		return c, nil
	case <-w.done:
		return nil, net.ErrClosed
	}
}

// Close unbinds the service.
func (w *watchedListener) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("listener: already closed")
	}
	w.closed = true
	close(w.done)
	return w.cur.Close()
}

// Addr names the Ziti service, so logs say where the service listens.
func (w *watchedListener) Addr() net.Addr { return zitiAddr(w.service) }
