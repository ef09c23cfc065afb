package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingDialer dials TCP and counts dials and live connections.
type countingDialer struct {
	dials, open atomic.Int64
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.open.Add(1)
	return &countedConn{Conn: c, d: d}, nil
}

func newPoolServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *countingDialer, *http.Client, *ConnPool) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	d := &countingDialer{}
	pool := NewConnPool(d.dial, 4, 0)
	t.Cleanup(pool.CloseIdleConnections)
	return srv, d, &http.Client{Transport: pool}, pool
}

func TestConnPoolReusesConnections(t *testing.T) {
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
	for i := range 20 {
		resp, err := c.Post(srv.URL+"/x", "text/plain", strings.NewReader(fmt.Sprint(i)))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, fmt.Sprintf("POST /x %d", i), string(b))
	}
	assert.EqualValues(t, 1, d.dials.Load(), "sequential requests share one connection")
}

func TestConnPoolReusesAfterEarlyCloseOfSmallBody(t *testing.T) {
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 10_000))
	})
	for range 3 {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close() // unread: drained, connection kept
	}
	assert.EqualValues(t, 1, d.dials.Load())
}

func TestConnPoolChunkedHeadAndConnectionClose(t *testing.T) {
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.(http.Flusher).Flush() // chunked
		_, _ = io.WriteString(w, "chunk")
	})
	resp, err := c.Get(srv.URL + "/chunked")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "chunk", string(b))
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)

	resp, err = c.Head(srv.URL + "/chunked")
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 1, d.dials.Load())

	resp, err = c.Get(srv.URL + "/close")
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Eventually(t, func() bool { return d.open.Load() == 0 }, time.Second, 10*time.Millisecond,
		"a Connection: close response is not kept")
}

func TestConnPoolCapsConnectionsPerPeer(t *testing.T) {
	var inFlight, most atomic.Int64
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	})
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				resp, err := c.Get(srv.URL)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, d.dials.Load(), int64(4), "never more than the cap")
	assert.LessOrEqual(t, most.Load(), int64(4))
}

func TestConnPoolRetriesStaleIdleConnectionForGET(t *testing.T) {
	var requests atomic.Int64
	srv, d, c, pool := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	// The server forgets its idle connections, as a restarted peer would.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	resp, err = c.Get(srv.URL)
	require.NoError(t, err, "a GET on a stale idle connection is retried on a fresh one")
	resp.Body.Close()
	assert.EqualValues(t, 2, d.dials.Load())
	_ = pool
}

func TestConnPoolCancellation(t *testing.T) {
	release := make(chan struct{})
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := c.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Eventually(t, func() bool { return d.open.Load() == 0 }, time.Second, 10*time.Millisecond,
		"a cancelled exchange spends its connection")
}

func TestConnPoolRefusesHTTPS(t *testing.T) {
	pool := NewConnPool((&countingDialer{}).dial, 1, 0)
	req, _ := http.NewRequest(http.MethodGet, "https://core-data.edgex.ziti/", nil)
	_, err := pool.RoundTrip(req)
	require.ErrorContains(t, err, `scheme "https" is not supported`)
}

func TestConnPoolSkipsInterimResponses(t *testing.T) {
	srv, _, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		fmt.Fprintf(w, "answer to %s", r.URL.Path)
	})
	for _, path := range []string{"/hints", "/second"} {
		resp, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "answer to "+path, string(b))
	}
}

func TestConnPoolCloseOfAStalledBodyIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv, _, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		_, _ = w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		<-release
	})
	defer close(release)
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, resp.Body.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestPlainPeersIgnoreProxySettings(t *testing.T) {
	tr, err := New([]Route{{Name: "legacy", Host: "10.0.0.7", Port: 8080}}, nil)
	require.NoError(t, err)
	assert.Nil(t, tr.plain.Proxy, "an HTTP_PROXY must not carry requests or JWTs to other hosts")
}

func TestConnPoolDropsIdleConnectionsThePeerClosed(t *testing.T) {
	var posts atomic.Int64
	srv, d, c, _ := newPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	})
	resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("1"))
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.CloseClientConnections() // as a restarted peer would
	time.Sleep(probeAfter + 100*time.Millisecond)
	resp, err = c.Post(srv.URL, "text/plain", strings.NewReader("2"))
	require.NoError(t, err, "a POST is not sent on a connection the peer closed while it was idle")
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.EqualValues(t, 2, posts.Load())
	assert.EqualValues(t, 2, d.dials.Load())

	// A live idle connection passes the check and is reused.
	time.Sleep(probeAfter + 100*time.Millisecond)
	resp, err = c.Get(srv.URL)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.EqualValues(t, 2, d.dials.Load())
}
