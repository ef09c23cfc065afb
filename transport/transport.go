// Package transport sends a ztedge service's outgoing requests and
// connections to its peers: over the OpenZiti overlay for peers in
// zerotrust mode, over plain TCP only for peers configured as plain, and
// nowhere else.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Route says how one peer is reached.
type Route struct {
	// Name is the peer's service name, for errors.
	Name string
	// Host and Port are the peer's address as requests name it: an
	// intercept address such as core-data.edgex.ziti:80 for overlay peers.
	Host string
	Port int
	// Overlay says the peer is reached over the overlay, not over TCP.
	Overlay bool
}

// Transport is an http.RoundTripper (and a dialer) that picks the way to
// each peer from its routes: requests to an overlay route's host:port go
// over the overlay, requests to a plain route's host:port over TCP, and
// requests to any other host fail with [ErrUnknownHost] (deny by default).
// Both paths keep connections alive for reuse.
type Transport struct {
	overlayDial DialFunc
	overlay     *ConnPool // nil when no route is an overlay route
	plain       *http.Transport
	plainDial   net.Dialer
	routes      map[string]Route // "host:port", host in lower case
}

// ErrUnknownHost is returned for a request to a host that is not a configured peer.
var ErrUnknownHost = errors.New("transport: host is not a configured peer")

// New builds a Transport for routes. overlay dials over the overlay; it is
// required when a route is an overlay route.
func New(routes []Route, overlay DialFunc) (*Transport, error) {
	t := &Transport{overlayDial: overlay, routes: map[string]Route{}}
	t.plain = http.DefaultTransport.(*http.Transport).Clone()
	// Plain peers are reached directly: an HTTP_PROXY from the environment
	// would carry requests, and the service's JWT, to a host nobody configured.
	t.plain.Proxy = nil
	for _, r := range routes {
		if r.Host == "" || r.Port < 1 || r.Port > 65535 {
			return nil, fmt.Errorf("transport: peer %s: %q port %d is not an address", r.Name, r.Host, r.Port)
		}
		addr := net.JoinHostPort(strings.ToLower(r.Host), strconv.Itoa(r.Port))
		if prev, dup := t.routes[addr]; dup && prev.Overlay != r.Overlay {
			return nil, fmt.Errorf("transport: peers %s and %s: %s is configured both over the overlay and over TCP", prev.Name, r.Name, addr)
		}
		t.routes[addr] = r
		if r.Overlay && t.overlay == nil {
			if overlay == nil {
				return nil, fmt.Errorf("transport: peer %s is in zerotrust mode but there is no overlay", r.Name)
			}
			t.overlay = NewConnPool(overlay, MaxConnsPerPeer, 0)
		}
	}
	return t, nil
}

// MaxConnsPerPeer caps the overlay connections to one peer. A Ziti dial
// costs a session from the controller and a new circuit (tens of
// milliseconds, against well under one for a request on an open
// connection). A pool that dials whenever a request finds no idle
// connection at that instant turns a burst of concurrent requests into a
// storm of dials that starves the requests themselves; with the cap,
// requests beyond it wait for a free connection.
const MaxConnsPerPeer = 16

// route returns the route of host:port.
func (t *Transport) route(host, port string) (Route, error) {
	addr := net.JoinHostPort(strings.ToLower(host), port)
	r, ok := t.routes[addr]
	if !ok {
		return Route{}, fmt.Errorf("%w: %s", ErrUnknownHost, addr)
	}
	return r, nil
}

// RoundTrip sends the request over the path configured for its host.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Most requests name their peer exactly as configured, host:port in
	// lower case: no need to build the key again.
	r, ok := t.routes[req.URL.Host]
	var err error
	if !ok || req.URL.Port() == "" {
		r, err = t.route(req.URL.Hostname(), portOf(req))
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if r.Overlay {
		return t.overlay.RoundTrip(req)
	}
	return t.plain.RoundTrip(req)
}

// DialContext opens a connection to a configured peer at addr (host:port)
// by the path configured for it, like [Transport.RoundTrip] does for
// requests: for protocols other than HTTP.
func (t *Transport) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" {
		return nil, fmt.Errorf("transport: dial %s: network %q is not supported", addr, network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %q: %w", addr, err)
	}
	r, err := t.route(host, port)
	if err != nil {
		return nil, err
	}
	if r.Overlay {
		return t.overlayDial(ctx, network, addr)
	}
	return t.plainDial.DialContext(ctx, network, addr)
}

// CloseIdleConnections closes idle connections on both paths.
func (t *Transport) CloseIdleConnections() {
	t.plain.CloseIdleConnections()
	if t.overlay != nil {
		t.overlay.CloseIdleConnections()
	}
}

// portOf is the request's port, from its scheme when the URL names none.
func portOf(req *http.Request) string {
	if p := req.URL.Port(); p != "" {
		return p
	}
	if req.URL.Scheme == "https" {
		return "443"
	}
	return "80"
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
