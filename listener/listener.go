// Package listener gives a ztedge service its listeners: the API listener,
// a Ziti service bound over the overlay in zerotrust mode or a TCP port in
// plain mode, and a separate underlay health server that answers only the
// ping path. [Server] serves an http.Handler on both with graceful shutdown.
package listener

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/zerotrust"
)

// DefaultBindTimeout bounds how long [Listen] retries binding the Ziti service.
const DefaultBindTimeout = 60 * time.Second

// Listen returns the service's API listener. In zerotrust mode it binds the
// Ziti service "edgex.<name>" through ov, retrying until it is established
// or ctx ends (DefaultBindTimeout when ctx has no deadline); it never opens
// a TCP port, and fails if ov is nil. In plain mode it listens on
// Service.Host:Service.Port.
func Listen(ctx context.Context, cfg zerotrust.ServiceConfig, ov *zerotrust.Overlay) (net.Listener, error) {
	switch cfg.Mode() {
	case zerotrust.ModeZeroTrust:
		if ov == nil {
			return nil, errors.New("listener: zerotrust mode needs an authenticated overlay; refusing to fall back to TCP")
		}
		if cfg.Name == "" {
			return nil, errors.New("listener: Service.Name is missing")
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DefaultBindTimeout)
			defer cancel()
		}
		return ov.Listen(ctx, cfg.ZitiService())
	case zerotrust.ModePlain:
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
		if err != nil {
			return nil, fmt.Errorf("listener: %w", err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("listener: unknown mode %q", cfg.Mode())
}

// PingResponse is the body of a ping answer, in EdgeX's v3 shape.
type PingResponse struct {
	APIVersion  string `json:"apiVersion"`
	Timestamp   string `json:"timestamp"`
	ServiceName string `json:"serviceName"`
}

// PingHandler answers GET and HEAD on path with 200 and a [PingResponse],
// 405 for other methods on path, and 404 for every other path.
func PingHandler(service, path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return
		}
		_ = json.NewEncoder(w).Encode(PingResponse{APIVersion: "v3", Timestamp: time.Now().UTC().Format(time.RFC3339), ServiceName: service})
	})
}

// Server serves a service's HTTP API on its listener (see [Listen]) and,
// when Config.HealthPort is not 0, the ping path alone on a separate
// underlay port.
type Server struct {
	// Config is the validated service configuration.
	Config zerotrust.ServiceConfig
	// Overlay is required in zerotrust mode.
	Overlay *zerotrust.Overlay
	// Handler serves the API. Requests carry the Ziti caller (zerotrust.Caller).
	Handler http.Handler
	// Authenticate wraps Handler with the check of inbound JWTs (for
	// example jwtauth.Middleware). Required when Config requires JWTs
	// (Service.SecurityOptions.RequireJWT, true by default in plain mode):
	// Run refuses to start without it rather than serve unauthenticated.
	Authenticate func(http.Handler) http.Handler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds graceful shutdown. Default 10 s.
	ShutdownTimeout time.Duration
	// Ready, if not nil, is called once both listeners are open, with their addresses
	// (health is nil when the health server is off).
	Ready func(api, health net.Addr)
}

// Run opens both listeners, serves until ctx is cancelled, then shuts down
// gracefully. It returns an error if a listener cannot be opened (a
// zerotrust service never falls back to TCP) or a server fails.
func (s *Server) Run(ctx context.Context) error {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	if s.Handler == nil {
		return errors.New("listener: no handler")
	}
	handler := s.Handler
	switch {
	case s.Config.RequireJWT() && s.Authenticate == nil:
		return errors.New("listener: the service requires JWTs (Service.SecurityOptions.RequireJWT) but the server has no Authenticate middleware; refusing to serve unauthenticated")
	case s.Authenticate != nil:
		handler = s.Authenticate(handler)
	case s.Config.Mode() == zerotrust.ModePlain:
		log.Warn("serving in plain mode without authentication (RequireJWT=false)", "service", s.Config.Name)
	}
	var health net.Listener
	if s.Config.HealthPort != 0 {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(s.Config.HealthHost, strconv.Itoa(s.Config.HealthPort)))
		if err != nil {
			return fmt.Errorf("listener: health port: %w", err)
		}
		health = l
	}
	api, err := Listen(ctx, s.Config, s.Overlay)
	if err != nil {
		if health != nil {
			health.Close()
		}
		return err
	}
	apiSrv := &http.Server{Handler: handler, ConnContext: zerotrust.ConnContext, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	servers := []*http.Server{apiSrv}
	errs := make(chan error, 2)
	go func() { errs <- apiSrv.Serve(api) }()
	log.Info("serving the API", "service", s.Config.Name, "mode", s.Config.Mode(), "address", api.Addr().String())
	var healthAddr net.Addr
	if health != nil {
		hs := &http.Server{Handler: PingHandler(s.Config.Name, s.Config.PingPath), ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		go func() { errs <- hs.Serve(health) }()
		healthAddr = health.Addr()
		log.Info("serving ping on the underlay", "service", s.Config.Name, "address", healthAddr.String(), "path", s.Config.PingPath)
	}
	if s.Ready != nil {
		s.Ready(api.Addr(), healthAddr)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errs:
		runErr = err
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// NewServer returns the Server for a started runtime: the service's
// configuration and overlay, and, when the configuration requires JWTs
// (Service.SecurityOptions.RequireJWT), the check of inbound JWTs on every
// route but ping (jwtauth.ForService and jwtauth.Middleware).
func NewServer(ctx context.Context, rt *zerotrust.Runtime, h http.Handler) (*Server, error) {
	s := &Server{Config: rt.Config.Service, Overlay: rt.Overlay, Handler: h, Logger: rt.Logger}
	v, err := jwtauth.ForService(ctx, rt)
	if err != nil {
		return nil, err
	}
	if v != nil {
		s.Authenticate = jwtauth.Middleware(v, rt.Config.Service.PingPath)
	}
	return s, nil
}
