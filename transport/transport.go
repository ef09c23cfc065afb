// Package transport sends a ztedge service's outgoing HTTP requests to its
// peers: over the OpenZiti overlay for peers configured in zerotrust mode,
// over plain TCP only for peers configured as plain, and nowhere else.
package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/zerotrust"
)

// Transport is an http.RoundTripper that picks the way to each peer from
// the service's client configuration ([zerotrust.Config.Clients]): requests
// to a zerotrust client's host:port go over the overlay, requests to a
// plain client's host:port over TCP, and requests to any other host fail
// (deny by default). Both paths keep connections alive for reuse.
type Transport struct {
	overlay *ConnPool // nil when no client is zerotrust
	plain   *http.Transport
	routes  map[string]zerotrust.Mode // "host:port" -> mode
}

// New builds a Transport for cfg's clients. ov is required when a client
// is in zerotrust mode. base, if not nil, is cloned for plain peers.
func New(cfg *zerotrust.Config, ov *zerotrust.Overlay, base *http.Transport) (*Transport, error) {
	t := &Transport{routes: map[string]zerotrust.Mode{}}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t.plain = base.Clone()
	// Plain peers are reached directly: an HTTP_PROXY from the environment
	// would carry requests, and the service's JWT, to a host nobody configured.
	t.plain.Proxy = nil
	for name, c := range cfg.Clients {
		addr := net.JoinHostPort(strings.ToLower(c.Host), fmt.Sprint(c.Port))
		if prev, dup := t.routes[addr]; dup && prev != c.Mode() {
			return nil, fmt.Errorf("transport: client %s: %s is configured both as %s and %s", name, addr, prev, c.Mode())
		}
		t.routes[addr] = c.Mode()
		if c.Mode() == zerotrust.ModeZeroTrust && t.overlay == nil {
			if ov == nil {
				return nil, fmt.Errorf("transport: client %s is in zerotrust mode but there is no overlay", name)
			}
			t.overlay = NewConnPool(ov.DialContext, MaxConnsPerPeer, 0)
		}
	}
	return t, nil
}

// MaxConnsPerPeer caps the overlay connections to one peer. A Ziti dial
// costs a session from the controller and a new circuit (tens of
// milliseconds, against well under one for a request on an open
// connection). A pool that dials whenever a request finds no idle
// connection at that instant (as net/http's does) turns a burst of
// concurrent requests into a storm of dials that starves the requests
// themselves; with the cap, requests beyond it wait for a free connection.
const MaxConnsPerPeer = 16

// ErrUnknownHost is returned for a request to a host that is not a configured client.
var ErrUnknownHost = errors.New("transport: host is not a configured client")

// RoundTrip sends the request over the path configured for its host.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := strings.ToLower(req.URL.Hostname())
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	mode, ok := t.routes[net.JoinHostPort(host, port)]
	if !ok {
		closeBody(req)
		return nil, fmt.Errorf("%w: %s", ErrUnknownHost, net.JoinHostPort(host, port))
	}
	if mode == zerotrust.ModeZeroTrust {
		return t.overlay.RoundTrip(req)
	}
	return t.plain.RoundTrip(req)
}

// CloseIdleConnections closes idle connections on both paths.
func (t *Transport) CloseIdleConnections() {
	t.plain.CloseIdleConnections()
	if t.overlay != nil {
		t.overlay.CloseIdleConnections()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// NewClient returns an http.Client using a [Transport] for cfg's clients,
// with the given overall request timeout (0 means none).
func NewClient(cfg *zerotrust.Config, ov *zerotrust.Overlay, timeout time.Duration) (*http.Client, error) {
	t, err := New(cfg, ov, nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, Timeout: timeout}, nil
}

// ForRuntime returns the http.Client a started service uses for its peers:
// a [Transport] for its configured clients over its overlay and, when it
// has Vault credentials, its own JWT in "Authorization: Bearer" on every
// request (jwtauth.BearerTransport), as the token-based design asks.
func ForRuntime(rt *zerotrust.Runtime, timeout time.Duration) (*http.Client, error) {
	t, err := New(rt.Config, rt.Overlay, nil)
	if err != nil {
		return nil, err
	}
	var rtp http.RoundTripper = t
	if rt.Tokens != nil {
		rtp = jwtauth.BearerTransport(t, rt.Tokens)
	}
	return &http.Client{Transport: rtp, Timeout: timeout}, nil
}
