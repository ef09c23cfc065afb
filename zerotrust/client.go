package zerotrust

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ztedge/ztedge/internal/metrics"
)

// clientTransport is the round tripper of [Service.HTTPClient]. It finds a
// request's configured peer once, by the URL's host, and then bounds the
// request with the client's timeout, adds the service's JWT when the peer
// requires one, sends it through the transport's deny-by-default router,
// and records the peer's metrics: one layer instead of one per job, since
// every request to a peer passes through all of them.
type clientTransport struct {
	next    http.RoundTripper // the service's transport
	withJWT http.RoundTripper // next, adding the service's JWT; nil without one
	timeout time.Duration     // 0: none
	peers   *peerTracker
}

// peer is a configured peer as the client sees it.
type peer struct {
	name    string
	jwt     bool // the peer requires JWTs: send the service's own
	metrics *metrics.PeerMetrics
}

func (t *clientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	p := t.peers.lookup(req)
	next := t.next
	if p != nil && p.jwt && t.withJWT != nil {
		next = t.withJWT
	}
	var cancel context.CancelFunc
	if t.timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		req = req.WithContext(ctx)
	}
	resp, err := next.RoundTrip(req)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	if p != nil {
		p.metrics.Requested(code, err, time.Since(start))
	} else {
		t.peers.metrics.Requested(hostPort(req), code, err, time.Since(start))
	}
	if cancel != nil {
		if err != nil {
			cancel()
		} else {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		}
	}
	return resp, err
}

// CloseIdleConnections passes the call on.
func (t *clientTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// cancelOnClose releases the request's deadline when the body is read to
// its end or closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (b *cancelOnClose) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.cancel)
	}
	return n, err
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}

// peerKeys are the URL hosts that name a peer at host:port: host:port with
// the host in lower case, and the bare host for port 80.
func peerKeys(host string, port int) []string {
	h := strings.ToLower(host)
	keys := []string{net.JoinHostPort(h, strconv.Itoa(port))}
	if port == 80 {
		keys = append(keys, h)
	}
	return keys
}

// hostPort is the request's host:port, the port from the scheme when none.
func hostPort(req *http.Request) string {
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(req.URL.Hostname()), port)
}
