package zerotrust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/listener"
	"github.com/ztedge/ztedge/transport"
)

// Options tune a [Service]. The zero value is usable.
type Options struct {
	// Logger receives the service's events, never a token. Default slog.Default().
	Logger *slog.Logger
	// RequestTimeout bounds each request of [Service.HTTPClient], the
	// reading of its answer's body included (each redirect is a request of
	// its own). Default 30 s; negative means none.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown of [Service.Serve].
	// Default 10 s.
	ShutdownTimeout time.Duration
	// OnServing, if not nil, is called once [Service.Serve] accepts
	// requests, with the API and health addresses (health is nil when the
	// health port is off).
	OnServing func(api, health net.Addr)
}

// Service is one running ztedge service: its identity (the Vault JWT),
// its overlay connection when the service or a peer is in zerotrust mode,
// and what it serves and calls. Create it with [New] and close it when
// the service stops. Its methods are safe for concurrent use.
type Service struct {
	cfg       *Config
	opts      Options
	log       *slog.Logger
	tokens    *idtoken.Source   // nil without Vault credentials
	overlay   *overlay          // nil when nothing is in zerotrust mode
	verifier  *jwtauth.Verifier // nil when inbound JWTs are not required
	transport *transport.Transport
	client    *http.Client
	metrics   *metrics.Metrics
	peers     *peerTracker

	bound atomic.Bool // the Ziti bind is established (zerotrust mode, while serving)

	stopKeep context.CancelFunc // ends the token keeper; nil without one

	mu      sync.Mutex
	serving bool
	closed  bool
}

// New validates cfg and starts the service's identity: it logs in to Vault
// and fetches the service's JWT, authenticates to the Ziti controller when
// the service or one of its peers is in zerotrust mode, and discovers
// Vault's signing keys when inbound JWTs are required. Anything incomplete
// or refused makes New fail, naming the setting at fault: a zerotrust
// service never falls back to plain mode.
func New(ctx context.Context, cfg *Config, opts Options) (*Service, error) {
	if cfg == nil {
		return nil, errors.New("zerotrust: no configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err // "zerotrust: ..." already
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	level, _ := parseLevel(cfg.Service.LogLevel) // checked by Validate
	base := slog.New(levelHandler{level: level, next: opts.Logger.Handler()})
	log := base.With("service", cfg.Service.Name)
	s := &Service{cfg: cfg, opts: opts, log: log}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	s.metrics = metrics.New(cfg.Service.Name, s.jwtExpiry)
	sec, field, zt := cfg.overlaySettings()
	if sec.credentials != "" {
		// The source names the service in its lines itself.
		src, err := idtoken.New(sec.credentials, idtoken.Options{Address: sec.vaultAddress, CAFile: sec.vaultCA, Logger: base,
			Observe: func(op string, err error) { s.metrics.Vault(op, err) }})
		if err != nil {
			return nil, fmt.Errorf("zerotrust: %s.%s: %w", field, KeyCredentials, err)
		}
		if cfg.Service.Name != "" && src.Service() != cfg.Service.Name {
			return nil, fmt.Errorf("zerotrust: %s.%s: the credentials are for %q, not for this service %q", field, KeyCredentials, src.Service(), cfg.Service.Name)
		}
		vault.WarnPlainHTTP(s.log, src.Address(), "logins and tokens", "use https and "+KeyVaultCA)
		s.tokens = src
	}
	if zt {
		var ov *overlay
		var err error
		if sec.identityFile != "" {
			ov, err = connectWithIdentity(ctx, sec, cfg.Service.Name, s.log, s.metrics)
		} else {
			ov, err = connect(ctx, sec, s.tokens, s.log, s.metrics)
		}
		s.metrics.Authenticated(err)
		if err != nil {
			return nil, err
		}
		s.overlay = ov
		s.vaultOverOverlay()
	}
	if cfg.Service.sec.requireJWT {
		v, err := newVerifier(ctx, cfg.Service.sec, s.tokens, s.log, func(err error) { s.metrics.Verified(jwtauth.Reason(err)) })
		if err != nil {
			return nil, err
		}
		s.verifier = v
	} else if cfg.Service.sec.mode == ModePlain {
		s.log.Warn("serving in plain mode without authentication (RequireJWT=false)")
	}
	if err := s.buildClient(); err != nil {
		return nil, err
	}
	if s.tokens != nil {
		// Renew the JWT ahead of use, so that a slow or absent Vault shows
		// in readiness and the log without waiting for a request.
		keepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stopKeep = stop
		go s.tokens.Keep(keepCtx)
	}
	ok = true
	return s, nil
}

// vaultOverOverlay makes the token source reach Vault through Vault's
// Ziti service once the service has joined the overlay, when the
// credentials name one: only the first login then needs a path to Vault
// on the network.
func (s *Service) vaultOverOverlay() {
	if s.tokens == nil || s.tokens.VaultZitiService() == "" {
		return
	}
	svc, zctx := s.tokens.VaultZitiService(), s.overlay.zctx
	s.tokens.UseOverlay(func(ctx context.Context) (net.Conn, error) { return zctx.DialContext(ctx, svc) })
	s.log.Info("reaching vault over the overlay from now on", "ziti_service", svc)
}

// overlaySettings picks the settings the overlay and the token source are
// built from: the service's when it is in zerotrust mode or has
// credentials, else the first zerotrust client's. zt reports whether
// anything uses zerotrust mode.
func (c *Config) overlaySettings() (sec settings, field string, zt bool) {
	if c.Service.sec.mode == ModeZeroTrust {
		return c.Service.sec, "Service.SecurityOptions", true
	}
	for _, n := range slices.Sorted(maps.Keys(c.Clients)) {
		cl := c.Clients[n]
		if cl.mode == ModeZeroTrust {
			csec, _ := cl.SecurityOptions.parse("")
			if c.Service.sec.credentials != "" {
				csec.credentials = c.Service.sec.credentials
			}
			return csec, "Clients." + n + ".SecurityOptions", true
		}
	}
	return c.Service.sec, "Service.SecurityOptions", false
}

// buildClient makes the transport and HTTP client for the configured peers.
func (s *Service) buildClient() error {
	routes := make([]transport.Route, 0, len(s.cfg.Clients))
	for name, c := range s.cfg.Clients {
		routes = append(routes, transport.Route{Name: name, Host: c.Host, Port: c.Port, Overlay: c.mode == ModeZeroTrust})
	}
	s.peers = newPeerTracker(s.cfg, s.log, s.metrics)
	var dial transport.DialFunc
	if s.overlay != nil {
		dial = s.peers.dial(s.overlay.dial)
	}
	t, err := transport.New(routes, dial)
	if err != nil {
		return fmt.Errorf("zerotrust: %w", err)
	}
	s.transport = t
	ct := &clientTransport{next: t, peers: s.peers, timeout: s.opts.RequestTimeout}
	if s.opts.RequestTimeout == 0 {
		ct.timeout = 30 * time.Second
	}
	if s.tokens != nil {
		ct.withJWT = jwtauth.BearerTransport(t, s.tokens)
	}
	s.client = &http.Client{Transport: ct, CheckRedirect: transport.CheckRedirect}
	return nil
}

// jwtExpiry is the current JWT's expiry, zero without one.
func (s *Service) jwtExpiry() time.Time {
	if s.tokens == nil {
		return time.Time{}
	}
	return s.tokens.State().Expires
}

// Name is the service's name.
func (s *Service) Name() string { return s.cfg.Service.Name }

// Config is the service's validated configuration. Do not modify it.
func (s *Service) Config() *Config { return s.cfg }

// HTTPClient returns the client for the service's peers: requests to a
// zerotrust peer's intercept address (Clients.<name>.BaseURL, e.g.
// http://core-data.edgex.ziti:80) go over the overlay, requests to a plain
// peer over TCP, requests to any other host fail (transport.ErrUnknownHost).
// When the service has Vault credentials every request carries its own JWT.
// Redirects are followed only on the same peer.
func (s *Service) HTTPClient() *http.Client { return s.client }

// Dial connects to a configured peer at addr (host:port) the way
// HTTPClient reaches it: over the overlay for zerotrust peers (an
// intercept address such as redis.edgex.ziti:6379), over TCP for plain
// peers, and nowhere else. network must be "tcp".
func (s *Service) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := s.transport.DialContext(ctx, network, addr)
	return c, errprefix.Add(errPrefix, err)
}

// Listen opens the service's API listener: in zerotrust mode the bound
// Ziti service "edgex.<name>" (no TCP port), in plain mode
// Service.Host:Service.Port. Serve calls it; call it yourself only to
// serve something other than HTTP.
func (s *Service) Listen(ctx context.Context) (net.Listener, error) {
	svc := s.cfg.Service
	if svc.sec.mode == ModeZeroTrust {
		if s.overlay == nil {
			return nil, errors.New("zerotrust: no overlay; refusing to fall back to TCP")
		}
		l, err := listener.Bind(ctx, s.overlay.zctx, svc.ZitiService(), listener.BindOptions{Logger: s.log,
			OnState: func(up bool) { s.bound.Store(up); s.metrics.Bound(up) }})
		return l, errprefix.Add(errPrefix, err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(svc.Host, strconv.Itoa(svc.Port)))
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %w", err)
	}
	return l, nil
}

// Close closes the overlay (and with it every listener and connection on
// it) and the idle connections of the HTTP client.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stopKeep != nil {
		s.stopKeep()
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if s.overlay != nil {
		s.overlay.close()
	}
	return nil
}
