// Package listener gives a zerotrust service its API listener: the Ziti
// service it binds instead of a TCP port, whose connections tell who
// dialed them.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/edge"
)

// DefaultBindTimeout bounds how long [Bind] retries when ctx has no deadline.
const DefaultBindTimeout = 60 * time.Second

// ErrNoBindPermission is returned by [Bind] when the identity has no Bind
// policy for the service: retrying cannot help.
var ErrNoBindPermission = errors.New("listener: this identity may not bind the ziti service (no Bind policy)")

// Bind binds the Ziti service through zctx and returns a listener whose
// connections carry the caller's identity (see [CallerOf]). It fails at
// once when the identity may not bind the service; otherwise it retries,
// logging why each attempt failed, until the bind is established on an
// edge router or ctx ends (after [DefaultBindTimeout] when ctx has no
// deadline). It never opens a TCP port.
func Bind(ctx context.Context, zctx ziti.Context, service string, log *slog.Logger) (net.Listener, error) {
	if log == nil {
		log = slog.Default()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultBindTimeout)
		defer cancel()
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		l, err := bindOnce(zctx, service)
		if err == nil {
			return &zitiListener{Listener: l, service: service}, nil
		}
		if errors.Is(err, ErrNoBindPermission) {
			return nil, err
		}
		lastErr = err
		log.Warn("binding the ziti service failed; retrying", "service", service, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("listener: binding %s: %w (last error: %v)", service, ctx.Err(), lastErr)
		case <-time.After(backoff(attempt)):
		}
	}
}

// backoff is the wait before retry attempt+1: 0.5 s more each time, at most 5 s.
func backoff(attempt int) time.Duration {
	return min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second)
}

// bindOnce tries one bind.
func bindOnce(zctx ziti.Context, service string) (edge.Listener, error) {
	svc, err := zctx.RefreshService(service)
	if err != nil {
		return nil, fmt.Errorf("listener: looking up ziti service %s: %w", service, err)
	}
	if svc == nil {
		return nil, fmt.Errorf("listener: ziti service %s does not exist or this identity has no policy for it", service)
	}
	if !slices.Contains(svc.Permissions, rest_model.DialBindBind) {
		return nil, fmt.Errorf("%w: %s", ErrNoBindPermission, service)
	}
	opts := ziti.DefaultListenOptions()
	opts.ConnectTimeout = 10 * time.Second
	opts.WaitForNEstablishedListeners = 1
	l, err := zctx.ListenWithOptions(service, opts)
	if err != nil {
		return nil, fmt.Errorf("listener: binding ziti service %s: %w", service, err)
	}
	return l, nil
}

// zitiListener is a net.Listener over a bound Ziti service.
type zitiListener struct {
	edge.Listener
	service string
}

// Addr names the Ziti service, so logs say where the service listens.
func (l *zitiListener) Addr() net.Addr { return zitiAddr(l.service) }

type zitiAddr string

func (a zitiAddr) Network() string { return "ziti" }
func (a zitiAddr) String() string  { return string(a) }
