package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_model"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/zitiid"
)

// overlay is what a tunnel needs of a Ziti context; tests give a fake.
type overlay interface {
	// identity is the name of the identity the overlay authenticated as.
	identity() string
	// permission says whether the identity may dial service, as the
	// controller last listed its services.
	permission(service string) permission
	// serviceFor returns the service whose intercept address matches
	// host:port, if the identity can see one.
	serviceFor(host string, port uint16) (string, bool)
	// dial connects to service; its errors are *DialError.
	dial(ctx context.Context, service string, appData []byte) (net.Conn, error)
	// close closes the context and every connection made on it.
	close()
}

// permission is what an identity may do with a service.
type permission int

const (
	// unlisted: the controller lists no such service for the identity.
	unlisted permission = iota
	// bindOnly: the identity may host the service but not dial it.
	bindOnly
	// dialable: the identity may dial the service.
	dialable
)

const (
	// serviceRefreshInterval is how often the SDK asks the controller
	// whether the identity's services changed (policies added or removed).
	serviceRefreshInterval = 15 * time.Second
	// refusedRefreshEvery bounds how often a dial to a service the
	// identity cannot see asks the controller again, so that a policy
	// granted a moment ago works at once.
	refusedRefreshEvery = 2 * time.Second
	// authTimeout bounds the first authentication.
	authTimeout = 30 * time.Second
)

// zitiOverlay is an SDK context authenticated with an identity file.
type zitiOverlay struct {
	zctx       ziti.Context
	name       string
	controller string
	stopEvents []func()

	mu          sync.Mutex
	lastRefresh map[string]time.Time // service -> when a refused dial last asked
	closed      bool
}

// connect authenticates to the controller named in an identity file, with
// the identity's certificate, trusting the controller only through the CA
// bundle the file got at enrolment. logf receives connection events.
func connect(ctx context.Context, file string, logf func(string, ...any)) (*zitiOverlay, error) {
	// The HTTP client library under the SDK dumps every controller request
	// when these are set.
	for _, v := range []string{"DEBUG", "SWAGGER_DEBUG"} {
		if _, set := os.LookupEnv(v); set {
			logf("unsetting %s: it would make the Ziti SDK's HTTP client log its requests", v)
			_ = os.Unsetenv(v)
		}
	}
	cfg, id, err := zitiid.Load(file)
	if err != nil {
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	// The SDK retries an unreachable or untrusted controller quietly until
	// the timeout: say what is wrong at once instead.
	if err := zitiid.Probe(ctx, zitiid.Controllers(cfg)[0], id.CA()); err != nil {
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	creds := edgeapis.NewIdentityCredentials(id)
	creds.ConfigTypes = []string{ziti.InterceptV1}
	cfg.Credentials = creds
	cfg.ConfigTypes = creds.ConfigTypes
	cfg.CtrlProxy = ctrlca.NoProxy
	zctx, err := ziti.NewContextWithOpts(cfg, &ziti.Options{
		RefreshInterval:        serviceRefreshInterval,
		SessionRefreshInterval: ziti.DefaultSessionRefreshInterval,
		RefreshJitter:          ziti.DefaultRefreshJitter,
	})
	if err != nil {
		return nil, fmt.Errorf("tunnel: ziti context from %s: %w", file, err)
	}
	o := &zitiOverlay{zctx: zctx, controller: strings.TrimSuffix(zitiid.Controllers(cfg)[0], "/edge/client/v1")}
	if err := o.authenticate(ctx); err != nil {
		zctx.Close()
		return nil, err
	}
	me, err := zctx.GetCurrentIdentity()
	if err != nil || me.Name == nil {
		zctx.Close()
		return nil, fmt.Errorf("tunnel: reading the identity's name from the controller at %s: %v", o.controller, err)
	}
	o.name = *me.Name
	ev := zctx.Events()
	o.stopEvents = append(o.stopEvents,
		ev.AddAuthenticationStateUnauthenticatedListener(func(ziti.Context, edgeapis.ApiSession) {
			logf("session with the controller at %s lost; the SDK re-authenticates", o.controller)
		}),
		ev.AddAuthenticationStateFullListener(func(ziti.Context, edgeapis.ApiSession) {
			logf("authenticated to the controller at %s as %q", o.controller, o.name)
		}),
		ev.AddRouterDisconnectedListener(func(_ ziti.Context, name, addr string) {
			logf("edge router %s (%s) disconnected; new connections reconnect to it", name, addr)
		}),
		ev.AddRouterConnectedListener(func(_ ziti.Context, name, addr string) {
			logf("edge router %s (%s) connected", name, addr)
		}),
	)
	return o, nil
}

// authenticate runs the SDK's blocking authentication under a deadline.
func (o *zitiOverlay) authenticate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.zctx.Authenticate() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("tunnel: authenticating to the ziti controller at %s with the identity's certificate: %w", o.controller, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tunnel: authenticating to the ziti controller at %s: %w (is it reachable?)", o.controller, ctx.Err())
	}
}

func (o *zitiOverlay) identity() string { return o.name }

func (o *zitiOverlay) permission(service string) permission {
	svc, ok := o.zctx.GetService(service)
	if !ok {
		return unlisted
	}
	return permissionOf(svc)
}

func permissionOf(svc *rest_model.ServiceDetail) permission {
	if slices.Contains(svc.Permissions, rest_model.DialBindDial) {
		return dialable
	}
	return bindOnly
}

func (o *zitiOverlay) serviceFor(host string, port uint16) (string, bool) {
	svc, _, err := o.zctx.GetServiceForAddr("tcp", host, port)
	if err != nil || svc == nil || svc.Name == nil {
		return "", false
	}
	return *svc.Name, true
}

// dial connects to service. A service the identity may not dial as far as
// the SDK knows is looked up once more at the controller (at most every
// refusedRefreshEvery), so a policy granted while the tunnel runs takes
// effect at once.
func (o *zitiOverlay) dial(ctx context.Context, service string, appData []byte) (net.Conn, error) {
	svc, ok := o.zctx.GetService(service)
	if (!ok || permissionOf(svc) != dialable) && o.mayRefresh(service) {
		s, err := o.zctx.RefreshService(service)
		if err == nil {
			svc, ok = s, s != nil
		}
	}
	switch {
	case !ok:
		return nil, &DialError{Service: service, Identity: o.name, Refused: true, Reason: reasonUnlisted}
	case permissionOf(svc) != dialable:
		return nil, &DialError{Service: service, Identity: o.name, Refused: true, Reason: reasonBindOnly}
	}
	conn, err := o.zctx.DialContextWithOptions(ctx, service, &ziti.DialOptions{AppData: appData})
	if err != nil {
		return nil, dialFailed(service, o.name, err)
	}
	return conn, nil
}

// mayRefresh reports whether a refused dial to service may ask the
// controller again.
func (o *zitiOverlay) mayRefresh(service string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if now.Sub(o.lastRefresh[service]) < refusedRefreshEvery {
		return false
	}
	if o.lastRefresh == nil || len(o.lastRefresh) > 1000 {
		o.lastRefresh = map[string]time.Time{}
	}
	o.lastRefresh[service] = now
	return true
}

func (o *zitiOverlay) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	for _, stop := range o.stopEvents {
		stop()
	}
	o.zctx.Close()
}

// dialFailed turns an SDK dial error into a *DialError with a reason a
// user can act on.
func dialFailed(service, id string, err error) *DialError {
	msg := err.Error()
	reason := "could not reach it over the overlay"
	switch {
	case strings.Contains(msg, "has no terminators"):
		reason = reasonNoServer
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, "timeout"):
		reason = "no answer over the overlay in time (is an edge router reachable?)"
	case strings.Contains(msg, "no edge routers") || strings.Contains(msg, "NO_EDGE_ROUTERS_AVAILABLE"):
		reason = "no edge router the identity may use is online"
	}
	return &DialError{Service: service, Identity: id, Reason: reason, Err: err}
}
