package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyPeer reads each request and, for the first failFirst connections,
// closes the connection without answering (its router went away); later
// connections get 200.
func flakyPeer(t *testing.T, failFirst int64) (dial DialFunc, requests *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	requests = &atomic.Int64{}
	var conns atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					requests.Add(1)
					if n <= failFirst {
						return // broken before a response started
					}
					_, _ = io.WriteString(c, okAnswer)
				}
			}()
		}
	}()
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, l.Addr().String())
	}, requests
}

func send(t *testing.T, pool *ConnPool, method string, header http.Header) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://core-data.edgex.ziti/api/v3/reading", strings.NewReader(`{"value":1}`))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := pool.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func TestIdempotentRequestsAreRetriedOnceOnAFreshConnection(t *testing.T) {
	for _, tc := range []struct {
		method string
		header http.Header
	}{
		{http.MethodGet, nil},
		{http.MethodHead, nil},
		{http.MethodDelete, http.Header{"X-Idempotency-Key": {"device-7"}}},
		{http.MethodPost, http.Header{"Idempotency-Key": {"reading-42"}}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			dial, requests := flakyPeer(t, 1)
			pool := NewConnPool(dial, 4, 0)
			defer pool.CloseIdleConnections()
			require.NoError(t, send(t, pool, tc.method, tc.header))
			assert.Equal(t, int64(2), requests.Load(), "sent once more on a fresh connection")
		})
	}
}

func TestWritesAreNeverSentTwice(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			dial, requests := flakyPeer(t, 1)
			pool := NewConnPool(dial, 4, 0)
			defer pool.CloseIdleConnections()
			err := send(t, pool, method, nil)
			require.ErrorIs(t, err, errNoResponse)
			assert.Equal(t, int64(1), requests.Load(), "a write that reached the peer is not sent again unless marked idempotent")
		})
	}
}

func TestARetryHappensOnlyOnce(t *testing.T) {
	dial, requests := flakyPeer(t, 5)
	pool := NewConnPool(dial, 4, 0)
	defer pool.CloseIdleConnections()
	require.Error(t, send(t, pool, http.MethodGet, nil))
	assert.Equal(t, int64(2), requests.Load())
}
