package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/naming"
)

// callerHeader is the header in which ztedge's gateway tells a service
// who its caller is (gateway.CallerHeader; the tunnel does not import the
// gateway).
const callerHeader = "X-Ztedge-Caller"

// droppedHeaders are the request headers, besides Forwarded and every
// X-Forwarded-*, that the HTTP proxy never passes on: proxies set them to
// say who the client is or what it asked for, and a service must not take
// a tunnel user's word for that.
var droppedHeaders = []string{"X-Real-Ip", "X-Original-Url", "X-Original-Uri", callerHeader}

// dropClientHeaders removes from h Forwarded, every X-Forwarded-* header
// and droppedHeaders, whatever their case, and also when spelt with
// underscores (X_Forwarded_For), which some servers take for dashes.
func dropClientHeaders(h http.Header) {
	for k := range h {
		name := strings.ReplaceAll(k, "_", "-")
		if strings.EqualFold(name, "Forwarded") || len(name) >= len("X-Forwarded-") && strings.EqualFold(name[:len("X-Forwarded-")], "X-Forwarded-") ||
			slices.ContainsFunc(droppedHeaders, func(d string) bool { return strings.EqualFold(name, d) }) {
			delete(h, k)
		}
	}
}

// errNotOverlay is the cause of a proxy request for a host that is no
// intercept address of the identity's services.
var errNotOverlay = errors.New("not an overlay address")

// newHTTPServer is the HTTP forward proxy: http:// URLs (and CONNECT)
// whose host:port is the intercept address of a service the identity
// sees, such as http://core-data.edgex.ziti, go to that service; every
// other host is refused with 403 and nothing is ever sent to the
// underlay.
func (t *Tunnel) newHTTPServer() *http.Server {
	tr := &http.Transport{
		Proxy:                 nil, // never another proxy from the environment
		DialContext:           t.dialAddr,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	rp := &httputil.ReverseProxy{
		// The request already carries the absolute URL; Rewrite (rather
		// than Director) drops Forwarded and X-Forwarded-For/Host/Proto
		// and adds none; dropClientHeaders drops the rest.
		Rewrite:   func(pr *httputil.ProxyRequest) { dropClientHeaders(pr.Out.Header) },
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t.proxyError(w, r, err)
		},
		ErrorLog: log.New(logWriter{t.log}, "", 0),
	}
	return &http.Server{
		Handler:           &proxyHandler{t: t, rp: rp},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter{t.log}, "HTTP proxy: ", 0),
		BaseContext:       func(net.Listener) context.Context { return t.ctx },
	}
}

// proxyHandler routes proxy requests to services.
type proxyHandler struct {
	t  *Tunnel
	rp *httputil.ReverseProxy
}

func (h *proxyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		h.t.serveConnect(w, r)
		return
	}
	if !r.URL.IsAbs() {
		addr, _ := h.t.HTTPAddr()
		http.Error(w, fmt.Sprintf("ztedge tunnel: this port is an HTTP proxy to the overlay, not a web server: "+
			"set it as the HTTP proxy and ask for a service by its intercept name, as in: curl -x http://%s http://core-data.%s/api/v3/ping", addr, naming.InterceptDomain),
			http.StatusBadRequest)
		return
	}
	if r.URL.Scheme != "http" {
		http.Error(w, "ztedge tunnel: only http:// URLs are proxied (https:// goes through CONNECT)", http.StatusBadRequest)
		return
	}
	port := uint16(naming.InterceptPort)
	if p := r.URL.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			http.Error(w, "ztedge tunnel: bad port in "+r.URL.Host, http.StatusBadRequest)
			return
		}
		port = uint16(n)
	}
	if _, err := h.t.serviceForHost(r.URL.Hostname(), port); err != nil {
		h.t.proxyError(w, r, err)
		return
	}
	h.rp.ServeHTTP(w, r)
}

// serveConnect answers CONNECT to an intercept address with a raw
// connection to its service.
func (t *Tunnel) serveConnect(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), t.dialTimeout)
	zc, err := t.dialAddr(ctx, "tcp", r.Host)
	cancel()
	if err != nil {
		t.proxyError(w, r, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		zc.Close()
		http.Error(w, "ztedge tunnel: CONNECT is not supported on this connection", http.StatusHTTPVersionNotSupported)
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		zc.Close()
		return
	}
	if rw.Reader.Buffered() > 0 { // bytes sent before the 200: not allowed
		c.Close()
		zc.Close()
		return
	}
	if !t.track(zc) || !t.track(c) {
		c.Close()
		zc.Close()
		return
	}
	defer t.untrack(c)
	defer t.untrack(zc)
	_ = c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	Pipe(c, zc)
}

// dialAddr connects to the service whose intercept address is addr.
func (t *Tunnel) dialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not host:port", errNotOverlay, addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: bad port in %q", errNotOverlay, addr)
	}
	svc, err := t.serviceForHost(host, uint16(port))
	if err != nil {
		return nil, err
	}
	host = normalHost(host)
	appData, _ := json.Marshal(map[string]string{"dst_protocol": "tcp", "dst_hostname": host, "dst_port": portStr})
	return t.ov.dial(ctx, svc, appData)
}

// serviceForHost returns the service whose intercept address is
// host:port. A name of ztedge's intercept domain on its port
// (<svc>.edgex.ziti:80) that matches no intercept the identity sees still
// maps to edgex.<svc>, so that the dial says clearly that the identity may
// not dial it.
func (t *Tunnel) serviceForHost(host string, port uint16) (string, error) {
	host = normalHost(host)
	if svc, ok := t.ov.serviceFor(host, port); ok {
		return svc, nil
	}
	if name, ok := strings.CutSuffix(host, "."+naming.InterceptDomain); ok && port == naming.InterceptPort &&
		name != "" && !strings.Contains(name, ".") {
		return naming.ZitiService(name), nil
	}
	return "", fmt.Errorf("%w: %s matches the intercept address of no service identity %q may use; this proxy reaches only Ziti services, by their intercept names (http://<service>.%s)",
		errNotOverlay, net.JoinHostPort(host, strconv.Itoa(int(port))), t.ov.identity(), naming.InterceptDomain)
}

// normalHost lower-cases a host name and drops a trailing dot.
func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// proxyError answers a proxy request that could not reach a service, and
// logs it (host only: paths and queries may hold secrets).
func (t *Tunnel) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	var de *DialError
	switch {
	case errors.Is(err, errNotOverlay):
		code = http.StatusForbidden
	case errors.As(err, &de):
		err = de
	case errors.Is(err, context.Canceled):
		return // the client went away
	}
	t.log.printf("HTTP proxy: %s %s from %s: %v", r.Method, r.Host, r.RemoteAddr, err)
	http.Error(w, "ztedge tunnel: "+err.Error(), code)
}

// logWriter sends the HTTP server's own log lines to the tunnel's log.
type logWriter struct{ l *logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.printf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
