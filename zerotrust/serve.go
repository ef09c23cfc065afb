package zerotrust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/health"
	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/listener"
)

// Serve serves h on the service's API listener (see [Service.Listen]) and,
// when Service.HealthPort is not 0, ping alone on the underlay health port,
// until ctx ends; then it shuts both down gracefully and returns nil. Ping
// (GET or HEAD on Service.PingPath) is answered on the API as well and
// never reaches h. Requests carry their caller (caller.From): the Ziti
// identity of an overlay connection, or the name of the verified JWT when
// JWTs are required, in which case every other request without a valid
// JWT is answered 401 before it reaches h.
//
// Serve fails when a listener cannot be opened; a zerotrust service never
// falls back to TCP. It may be called once.
func (s *Service) Serve(ctx context.Context, h http.Handler) error {
	if h == nil {
		return errors.New("zerotrust: Serve: no handler")
	}
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("zerotrust: Serve may be called once, before Close")
	}
	s.serving = true
	s.mu.Unlock()

	svc := s.cfg.Service
	ping := &health.Handler{Service: svc.Name, PingPath: svc.PingPath, Ready: s.ready}
	var healthLn net.Listener
	if svc.HealthPort != 0 {
		l, err := health.Listen(ctx, net.JoinHostPort(svc.HealthHost, strconv.Itoa(svc.HealthPort)))
		if err != nil {
			return fmt.Errorf("zerotrust: health port: %w", err)
		}
		healthLn = l
	}
	api, err := s.Listen(ctx)
	if err != nil {
		if healthLn != nil {
			healthLn.Close()
		}
		return err
	}
	apiSrv := &http.Server{Handler: s.apiHandler(h, ping), ConnContext: listener.ConnContext,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	servers := []*http.Server{apiSrv}
	errs := make(chan error, 2)
	go func() { errs <- apiSrv.Serve(api) }()
	s.log.Info("serving the API", "mode", svc.sec.mode, "address", api.Addr().String())
	var healthAddr net.Addr
	if healthLn != nil {
		var hh http.Handler = ping
		if svc.MetricsPath != "" {
			mux := http.NewServeMux()
			mux.Handle("GET "+svc.MetricsPath, s.metrics.Handler())
			mux.Handle("/", ping)
			hh = mux
		}
		hs := health.Server(hh, s.log)
		servers = append(servers, hs)
		go func() { errs <- hs.Serve(healthLn) }()
		healthAddr = healthLn.Addr()
		s.log.Info("serving ping on the underlay", "address", healthAddr.String(), "path", svc.PingPath, "metrics", svc.MetricsPath)
	}
	if s.opts.OnServing != nil {
		s.opts.OnServing(api.Addr(), healthAddr)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	timeout := s.opts.ShutdownTimeout
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
	return errprefix.Add(errPrefix, runErr)
}

// apiHandler is h behind ping and, where required, the JWT check.
func (s *Service) apiHandler(h http.Handler, pingHandler http.Handler) http.Handler {
	pingPath := s.cfg.Service.PingPath
	if s.verifier != nil {
		h = jwtauth.Middleware(s.verifier, jwtauth.MiddlewareOptions{Relays: s.cfg.Service.sec.relays})(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if caller.Exempt(r, pingPath) {
			pingHandler.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readyTimeout bounds the Vault request a readiness check may make.
const readyTimeout = 3 * time.Second

// ready tells whether the service can serve now: nil, or why not.
func (s *Service) ready() error {
	if s.cfg.Service.sec.mode == ModeZeroTrust && !s.bound.Load() {
		return errors.New("the ziti service is not bound on any edge router")
	}
	if s.tokens != nil {
		// The cached JWT may have expired unused while the API session
		// lives on: ready means a JWT can be had now, so ask for one.
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		return s.tokens.Ready(ctx)
	}
	return nil
}
