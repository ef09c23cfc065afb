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
)

// timeoutTransport bounds each request, the reading of its answer's body
// included, with a context deadline. It does what http.Client.Timeout
// does for net/http's own Transport; for any other RoundTripper the
// client would start a goroutine and a timer per request, which costs
// about a tenth of the client's time per request on the overlay.
type timeoutTransport struct {
	rt      http.RoundTripper
	timeout time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// CloseIdleConnections passes the call on.
func (t *timeoutTransport) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
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

// jwtWhereRequired sends the service's own JWT only to the peers that
// require one (see [KeyRequireJWT]); requests to other peers go without.
type jwtWhereRequired struct {
	with, without http.RoundTripper
	peers         map[string]bool // "host:port", host in lower case
}

func (t *jwtWhereRequired) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.peers[hostPort(req)] {
		return t.with.RoundTrip(req)
	}
	return t.without.RoundTrip(req)
}

// CloseIdleConnections passes the call on.
func (t *jwtWhereRequired) CloseIdleConnections() {
	if c, ok := t.without.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// jwtPeers are the addresses of the clients that require JWTs.
func jwtPeers(cfg *Config) map[string]bool {
	peers := map[string]bool{}
	for _, c := range cfg.Clients {
		if c.sendJWT {
			peers[net.JoinHostPort(strings.ToLower(c.Host), strconv.Itoa(c.Port))] = true
		}
	}
	return peers
}
