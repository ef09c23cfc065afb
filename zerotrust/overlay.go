package zerotrust

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	"github.com/openziti/edge-api/rest_model"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/edge"
)

// Overlay is a process's one authenticated OpenZiti context, shared by the
// service's listener and every client that dials peers. It authenticates
// with the service's own JWT through the controller's external JWT signer
// and asks its [TokenSource] for a fresh JWT at every (re)authentication,
// so it keeps working long after its first JWT expired. Create it with
// [Connect]; it is safe for concurrent use.
type Overlay struct {
	zctx       ziti.Context
	controller string
	log        *slog.Logger
	stopEvents []func()

	mu     sync.Mutex
	closed bool
}

// OverlayOptions configure [Connect].
type OverlayOptions struct {
	// Controller is the Ziti controller as host:port or https URL. Required.
	Controller string
	// CAFile is a PEM file with the controller's CA bundle. When empty, the
	// bundle is fetched from the controller (trust on first use) and a
	// warning is logged.
	CAFile string
	// Tokens supplies the service's JWT. Required.
	Tokens TokenSource
	// Logger receives connection events (never tokens). Default slog.Default().
	Logger *slog.Logger
	// AuthTimeout bounds the first authentication. Default 30 s.
	AuthTimeout time.Duration
}

// Connect authenticates to the controller and returns the overlay. It
// fails, never falling back to anything, when the options are incomplete,
// the CA file is unreadable, no JWT can be had, or the controller refuses it.
func Connect(ctx context.Context, opts OverlayOptions) (*Overlay, error) {
	if opts.Tokens == nil {
		return nil, errors.New("zerotrust: no token source for the service's JWT")
	}
	if opts.Controller == "" {
		return nil, fmt.Errorf("zerotrust: %s is missing", KeyController)
	}
	ctrl, err := ControllerURL(opts.Controller)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %s: %w", KeyController, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = 30 * time.Second
	}
	// The HTTP client library under the SDK dumps every controller request,
	// Authorization headers included, when these are set: a JWT must never
	// reach a log.
	for _, v := range []string{"DEBUG", "SWAGGER_DEBUG"} {
		if _, set := os.LookupEnv(v); set {
			log.Warn("unsetting " + v + ": it would make the Ziti SDK's HTTP client log tokens")
			_ = os.Unsetenv(v)
		}
	}
	pool, err := controllerCAs(ctrl, opts.CAFile, log)
	if err != nil {
		return nil, err
	}
	// Fetch a JWT first, so a Vault problem is reported as such.
	if _, err := opts.Tokens.Token(ctx); err != nil {
		return nil, fmt.Errorf("zerotrust: getting the service's JWT: %w", err)
	}
	creds := &freshJWTCredentials{tokens: opts.Tokens, log: log}
	creds.CaPool = pool
	creds.ConfigTypes = []string{ziti.InterceptV1}
	zctx, err := ziti.NewContext(&ziti.Config{
		ZtAPI:       ctrl + "/edge/client/v1",
		Credentials: creds,
		ConfigTypes: []string{ziti.InterceptV1},
	})
	if err != nil {
		return nil, fmt.Errorf("zerotrust: ziti context for %s: %w", ctrl, err)
	}
	o := &Overlay{zctx: zctx, controller: ctrl, log: log}
	if err := o.authenticate(ctx, opts.AuthTimeout); err != nil {
		zctx.Close()
		return nil, err
	}
	o.stopEvents = append(o.stopEvents,
		zctx.Events().AddAuthenticationStateUnauthenticatedListener(func(ziti.Context, edgeapis.ApiSession) {
			o.log.Info("ziti session lost; re-authenticating with a fresh JWT", "controller", ctrl)
		}),
		zctx.Events().AddAuthenticationStateFullListener(func(ziti.Context, edgeapis.ApiSession) {
			o.log.Info("authenticated to the ziti controller", "controller", ctrl)
		}),
	)
	return o, nil
}

// authenticate runs the SDK's blocking authentication under a deadline.
func (o *Overlay) authenticate(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.zctx.Authenticate() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("zerotrust: authenticating to the ziti controller at %s with the service's JWT: %w", o.controller, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("zerotrust: authenticating to the ziti controller at %s: %w (is it reachable?)", o.controller, ctx.Err())
	}
}

// Reauthenticate forces a full authentication now, with a fresh JWT.
func (o *Overlay) Reauthenticate(ctx context.Context) error {
	impl, ok := o.zctx.(*ziti.ContextImpl)
	if !ok {
		return o.authenticate(ctx, 30*time.Second)
	}
	done := make(chan error, 1)
	go func() { done <- impl.Reauthenticate() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Identity is the name of the identity the overlay authenticated as.
func (o *Overlay) Identity() (string, error) {
	id, err := o.zctx.GetCurrentIdentity()
	if err != nil {
		return "", err
	}
	if id.Name == nil {
		return "", errors.New("the controller returned no identity name")
	}
	return *id.Name, nil
}

// Context returns the underlying SDK context, for what this package does
// not wrap.
func (o *Overlay) Context() ziti.Context { return o.zctx }

// Close closes every listener and connection of the overlay.
func (o *Overlay) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	for _, stop := range o.stopEvents {
		stop()
	}
	o.zctx.Close()
	return nil
}

// Listen binds the Ziti service and returns a listener whose connections
// carry the caller's identity (see [CallerOf]). It fails at once, naming
// the reason, when the service does not exist or the identity may not bind
// it; otherwise it retries until the listener is established on an edge
// router or ctx ends, logging why each attempt failed.
func (o *Overlay) Listen(ctx context.Context, service string) (net.Listener, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		l, retry, err := o.listenOnce(service)
		if err == nil {
			return &zitiListener{Listener: l, service: service}, nil
		}
		if !retry {
			return nil, err
		}
		lastErr = err
		o.log.Warn("binding the ziti service failed; retrying", "service", service, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("zerotrust: binding %s: %w (last error: %v)", service, ctx.Err(), lastErr)
		case <-time.After(backoff(attempt)):
		}
	}
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt) * 500 * time.Millisecond
	if d > 5*time.Second {
		d = 5 * time.Second
	}
	return d
}

// listenOnce tries one bind. retry says whether trying again could help.
func (o *Overlay) listenOnce(service string) (edge.Listener, bool, error) {
	svc, err := o.zctx.RefreshService(service)
	if err != nil {
		return nil, true, fmt.Errorf("zerotrust: looking up ziti service %s: %w", service, err)
	}
	if svc == nil {
		return nil, true, fmt.Errorf("zerotrust: ziti service %s does not exist or this identity has no policy for it", service)
	}
	if !slices.Contains(svc.Permissions, rest_model.DialBindBind) {
		return nil, false, fmt.Errorf("zerotrust: this identity may not bind ziti service %s (no Bind policy)", service)
	}
	opts := ziti.DefaultListenOptions()
	opts.ConnectTimeout = 10 * time.Second
	opts.WaitForNEstablishedListeners = 1
	l, err := o.zctx.ListenWithOptions(service, opts)
	if err != nil {
		return nil, true, fmt.Errorf("zerotrust: binding ziti service %s: %w", service, err)
	}
	return l, false, nil
}

// DialContext connects to a peer over Ziti. addr is an intercept address
// ("core-data.edgex.ziti:80", matched against the services' intercept.v1
// configs) or a Ziti service name with any port ("edgex.core-data:80").
func (o *Overlay) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: dial %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: dial %q: bad port", addr)
	}
	if !strings.HasPrefix(network, "tcp") {
		return nil, fmt.Errorf("zerotrust: dial %q: network %q is not supported", addr, network)
	}
	if svc, _, err := o.zctx.GetServiceForAddr("tcp", host, uint16(port)); err == nil && svc != nil && svc.Name != nil {
		appData, _ := json.Marshal(map[string]string{"dst_protocol": "tcp", "dst_hostname": host, "dst_port": portStr})
		conn, err := o.zctx.DialContextWithOptions(ctx, *svc.Name, &ziti.DialOptions{AppData: appData})
		if err != nil {
			return nil, fmt.Errorf("zerotrust: dialing %s (ziti service %s): %w", addr, *svc.Name, err)
		}
		return conn, nil
	}
	conn, err := o.zctx.DialContext(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: dialing %s: no intercept address matches and ziti service %q: %w", addr, host, err)
	}
	return conn, nil
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

// CallerOf returns the Ziti identity name of the peer on an inbound
// overlay connection, and false for any other connection.
//
// The name is the one the dialing SDK asserts for its own session; the
// controller's Dial policy guarantees that only permitted identities can
// connect at all. Where a route must be certain which permitted identity
// is calling, require a JWT as well (defense in depth).
func CallerOf(c net.Conn) (string, bool) {
	ec, ok := c.(edge.Conn)
	if !ok {
		return "", false
	}
	id := ec.SourceIdentifier()
	return id, id != ""
}

// controllerCAs loads the controller CA bundle from a file, or fetches it
// from the controller with a warning when no file is given.
func controllerCAs(ctrl, caFile string, log *slog.Logger) (*x509.CertPool, error) {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("zerotrust: %s: %w", KeyControllerCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("zerotrust: %s: %s holds no PEM certificate", KeyControllerCA, caFile)
		}
		return pool, nil
	}
	log.Warn("no controller CA file given: trusting the controller's CA bundle on first use; set "+KeyControllerCA+" to pin it", "controller", ctrl)
	pool, err := ziti.GetControllerWellKnownCaPool(ctrl)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: fetching the CA bundle of the ziti controller at %s: %w", ctrl, err)
	}
	return pool, nil
}

// freshJWTCredentials authenticates with the external JWT signer, asking
// the token source for the JWT at every authentication request so that a
// re-authentication never presents an expired token. The JWT is sent only
// on authentication requests, not on every later API call.
type freshJWTCredentials struct {
	edgeapis.BaseCredentials
	tokens TokenSource
	log    *slog.Logger
}

var _ edgeapis.Credentials = (*freshJWTCredentials)(nil)

// Method is the external JWT authentication method.
func (c *freshJWTCredentials) Method() edgeapis.AuthMethod { return edgeapis.AuthMethodJwtExt }

// AuthenticateRequest adds "Authorization: Bearer <fresh JWT>" to
// authentication requests (legacy /authenticate, or the OIDC login whose
// path is not yet set) and the base headers to all.
func (c *freshJWTCredentials) AuthenticateRequest(req runtime.ClientRequest, reg strfmt.Registry) error {
	if p := req.GetPath(); p == "" || strings.Contains(p, "/authenticate") {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			c.log.Error("cannot get a JWT to authenticate to the ziti controller", "err", err)
			return fmt.Errorf("getting the service's JWT: %w", err)
		}
		req.GetHeaderParams().Set("Authorization", "Bearer "+tok)
	}
	return c.BaseCredentials.AuthenticateRequest(req, reg)
}
