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

// BindOptions tune [Bind]. The zero value is usable.
type BindOptions struct {
	// Logger receives bind state changes and retries. Default slog.Default().
	Logger *slog.Logger
	// OnState, if not nil, is called with true when the bind is
	// established on an edge router and false when it is lost.
	OnState func(bound bool)
	// RebindAfter is how long the bind may stay lost before the listener
	// binds the service anew. Default [DefaultRebindAfter].
	RebindAfter time.Duration
}

// DefaultRebindAfter is how long a lost bind waits for the SDK to restore
// it before [Bind]'s listener binds anew. (sdk-golang v1.9.0 retries a
// router it lost only after 30 s and its session refresh, which here took
// 28 to 50 s after a router restart.)
const DefaultRebindAfter = 3 * time.Second

// Bind binds the Ziti service through zctx and returns a listener whose
// connections carry the caller's identity (see [CallerOf]). It fails at
// once when the identity may not bind the service; otherwise it retries,
// logging why each attempt failed, until the bind is established on an
// edge router or ctx ends (after [DefaultBindTimeout] when ctx has no
// deadline). It never opens a TCP port.
//
// The listener watches its bind: when it has been lost (the edge router
// went away) for RebindAfter, it binds the service anew, and keeps trying
// until it is back, while Accept goes on. Close stops it.
func Bind(ctx context.Context, zctx ziti.Context, service string, opts BindOptions) (net.Listener, error) {
	if zctx == nil {
		return nil, errors.New("listener: no Ziti context to bind with")
	}
	if service == "" {
		return nil, errors.New("listener: no Ziti service to bind")
	}
	log := opts.Logger
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
			return newWatchedListener(zctx, service, l, opts, log), nil
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

type zitiAddr string

func (a zitiAddr) Network() string { return "ziti" }
func (a zitiAddr) String() string  { return string(a) }
