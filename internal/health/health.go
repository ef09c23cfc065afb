// Package health is a ztedge process's health port: the handler that
// answers only the ping path (liveness, and readiness with ?ready), and the
// server and listener limits that keep one reachable port from holding
// resources forever.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// PingResponse is the body of a ping answer, in EdgeX's v3 shape. Ready
// and Reason are set only on readiness answers.
type PingResponse struct {
	APIVersion  string `json:"apiVersion"`
	Timestamp   string `json:"timestamp"`
	ServiceName string `json:"serviceName"`
	Ready       *bool  `json:"ready,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ReadyQuery is the query that turns a ping into a readiness check:
// GET <ping path>?ready.
const ReadyQuery = "ready"

// Handler answers ping, on the health port and on a service's API.
type Handler struct {
	// Service is the service name in answers.
	Service string
	// PingPath is the path answered, e.g. /api/v3/ping.
	PingPath string
	// Ready, if not nil, tells whether the service can serve now: nil when
	// it can, else why not. It is asked for GET <PingPath>?ready.
	Ready func() error
}

// ServeHTTP answers GET and HEAD on PingPath with 200 and a
// [PingResponse] (liveness: the process runs), and GET <PingPath>?ready
// with 200 when Ready reports nil and 503 with the reason otherwise. Other
// methods on PingPath get 405, every other path 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.PingPath || r.URL.RawPath != "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	answer := PingResponse{APIVersion: "v3", Timestamp: time.Now().UTC().Format(time.RFC3339), ServiceName: h.Service}
	code := http.StatusOK
	if r.URL.Query().Has(ReadyQuery) {
		ready := true
		if h.Ready != nil {
			if err := h.Ready(); err != nil {
				ready, answer.Reason, code = false, err.Error(), http.StatusServiceUnavailable
			}
		}
		answer.Ready = &ready
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(answer)
	}
}

// Limits of the health server: a health check is one small request, so
// slow or idle connections are cut early and few are served at once.
const (
	ReadTimeout  = 5 * time.Second
	WriteTimeout = 5 * time.Second
	IdleTimeout  = 10 * time.Second
	MaxHeader    = 8 << 10
	// MaxConns is how many connections the health port serves at once;
	// more are closed as soon as they are accepted.
	MaxConns = 32
)

// Server returns the http.Server of the health port for h, with the
// limits above. Serve it on a listener from [Listen].
func Server(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeader,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Listen opens the health port on addr, limited to [MaxConns]
// connections at once.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return LimitConns(l, MaxConns), nil
}

// LimitConns returns a listener that keeps at most n of l's connections
// open at once, closing further ones right after accepting them, so
// connections beyond the limit neither queue nor hold descriptors.
func LimitConns(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			c.Close()
		}
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and releases its slot, once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
