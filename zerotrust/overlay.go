package zerotrust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/jwtauth"
)

// PinFileName is the file, next to the service's credentials file, that
// holds the controller's CA bundle when OpenZitiCAFile is not set:
// provisioning writes it, or the service saves the bundle it fetched on
// first use, and from then on the controller must present a certificate
// that bundle trusts.
const PinFileName = credentials.ControllerCAFileName

// overlay is a process's one authenticated OpenZiti context, shared by the
// service's listener and its clients. It authenticates with the service's
// own JWT through the controller's external JWT signer and asks its token
// source for a fresh JWT at every (re)authentication, so it keeps working
// long after its first JWT expired.
type overlay struct {
	zctx       ziti.Context
	controller string
	with       string // what it authenticates with, for errors
	log        *slog.Logger
	stopEvents []func()

	mu     sync.Mutex
	closed bool
}

// overlayAuthTimeout bounds the first authentication.
const overlayAuthTimeout = 30 * time.Second

// connect authenticates to the controller of sec with tokens. It fails,
// never falling back to anything, when the CA cannot be trusted, no JWT
// can be had, or the controller refuses it.
func connect(ctx context.Context, sec settings, tokens jwtauth.TokenSource, log *slog.Logger, m *metrics.Metrics) (*overlay, error) {
	unsetSDKDebug(log)
	pool, err := ctrlca.Load(ctx, ctrlca.Options{
		Controller: sec.controller,
		CAFile:     sec.controllerCA,
		PinFile:    filepath.Join(filepath.Dir(sec.credentials), PinFileName),
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %w", err)
	}
	// Fetch a JWT first, so a Vault problem is reported as such.
	if _, err := tokens.Token(ctx); err != nil {
		return nil, fmt.Errorf("zerotrust: getting the service's JWT: %w", err)
	}
	creds := &freshJWTCredentials{tokens: tokens, log: log, metrics: m}
	creds.CaPool = pool
	creds.ConfigTypes = []string{ziti.InterceptV1}
	zctx, err := ziti.NewContext(&ziti.Config{
		ZtAPI:       sec.controller + "/edge/client/v1",
		Credentials: creds,
		ConfigTypes: []string{ziti.InterceptV1},
		CtrlProxy:   ctrlca.NoProxy,
	})
	if err != nil {
		return nil, fmt.Errorf("zerotrust: ziti context for %s: %w", sec.controller, err)
	}
	o := &overlay{zctx: zctx, controller: sec.controller, with: "the service's JWT", log: log}
	if err := o.authenticate(ctx, overlayAuthTimeout); err != nil {
		zctx.Close()
		return nil, err
	}
	o.watch(m)
	return o, nil
}

// unsetSDKDebug unsets DEBUG and SWAGGER_DEBUG: with them, the HTTP client
// library under the SDK dumps every controller request, Authorization
// headers included, and a JWT must never reach a log.
func unsetSDKDebug(log *slog.Logger) {
	for _, v := range []string{"DEBUG", "SWAGGER_DEBUG"} {
		if _, set := os.LookupEnv(v); set {
			log.Warn("unsetting " + v + ": it would make the Ziti SDK's HTTP client log tokens")
			_ = os.Unsetenv(v)
		}
	}
}

// watch logs the overlay's state changes and counts authentications.
func (o *overlay) watch(m *metrics.Metrics) {
	o.stopEvents = append(o.stopEvents,
		o.zctx.Events().AddAuthenticationStateUnauthenticatedListener(func(ziti.Context, edgeapis.ApiSession) {
			m.SessionLost()
			o.log.Info("ziti session lost; re-authenticating", "controller", o.controller)
		}),
		o.zctx.Events().AddAuthenticationStateFullListener(func(ziti.Context, edgeapis.ApiSession) {
			m.Authenticated(nil)
			o.log.Info("authenticated to the ziti controller", "controller", o.controller)
		}),
		o.zctx.Events().AddRouterDisconnectedListener(func(_ ziti.Context, name, addr string) {
			o.log.Warn("edge router connection lost", "router", name, "address", addr)
		}),
		o.zctx.Events().AddRouterConnectedListener(func(_ ziti.Context, name, addr string) {
			o.log.Info("edge router connected", "router", name, "address", addr)
		}),
	)
}

// authenticate runs the SDK's blocking authentication under a deadline.
func (o *overlay) authenticate(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.zctx.Authenticate() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("zerotrust: authenticating to the ziti controller at %s with %s: %w", o.controller, o.with, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("zerotrust: authenticating to the ziti controller at %s: %w (is it reachable?)", o.controller, ctx.Err())
	}
}

// reauthenticate forces a full authentication now, with a fresh JWT.
func (o *overlay) reauthenticate(ctx context.Context) error {
	impl, ok := o.zctx.(*ziti.ContextImpl)
	if !ok {
		return o.authenticate(ctx, overlayAuthTimeout)
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

// identity is the name of the identity the overlay authenticated as.
func (o *overlay) identity() (string, error) {
	id, err := o.zctx.GetCurrentIdentity()
	if err != nil {
		return "", err
	}
	if id.Name == nil {
		return "", errors.New("zerotrust: the controller returned no identity name")
	}
	return *id.Name, nil
}

// close closes every listener and connection of the overlay.
func (o *overlay) close() {
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

// dial connects to a peer over Ziti. addr is an intercept address
// ("core-data.edgex.ziti:80", matched against the services' intercept.v1
// configs) or a Ziti service name with any port ("edgex.core-data:80").
func (o *overlay) dial(ctx context.Context, network, addr string) (net.Conn, error) {
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

// freshJWTCredentials authenticates with the external JWT signer, asking
// the token source for the JWT at every authentication request so that a
// re-authentication never presents an expired token. The JWT is sent only
// on authentication requests, not on every later API call.
type freshJWTCredentials struct {
	edgeapis.BaseCredentials
	tokens  jwtauth.TokenSource
	log     *slog.Logger
	metrics *metrics.Metrics
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
			c.metrics.Authenticated(err)
			c.log.Error("cannot get a JWT to authenticate to the ziti controller", "err", err)
			return fmt.Errorf("getting the service's JWT: %w", err)
		}
		req.GetHeaderParams().Set("Authorization", "Bearer "+tok)
	}
	return c.BaseCredentials.AuthenticateRequest(req, reg)
}
