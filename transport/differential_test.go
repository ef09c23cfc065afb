package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedPeer answers every request on every connection with answer,
// written raw, and counts the requests it parsed.
func scriptedPeer(t *testing.T, answer func(w io.Writer)) (addr string, requests *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	requests = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					requests.Add(1)
					_, _ = io.Copy(io.Discard, req.Body)
					answer(c)
				}
			}()
		}
	}()
	return l.Addr().String(), requests
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// both sends the request made by mk through net/http's Transport and
// through the overlay pool, against the same peer.
func both(t *testing.T, addr string, mk func() *http.Request) (stdErr, poolErr error, stdCode, poolCode int) {
	t.Helper()
	d := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	std := &http.Transport{DialContext: d, Proxy: nil}
	defer std.CloseIdleConnections()
	pool := NewConnPool(d, 2, 0)
	defer pool.CloseIdleConnections()
	do := func(rt http.RoundTripper) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := rt.RoundTrip(mk().WithContext(ctx))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return resp.StatusCode, err
		}
		return resp.StatusCode, nil
	}
	stdCode, stdErr = do(std)
	poolCode, poolErr = do(pool)
	return stdErr, poolErr, stdCode, poolCode
}

func request(method, target string, header http.Header) func() *http.Request {
	return func() *http.Request {
		u, _ := url.Parse("http://core-data.edgex.ziti" + target)
		if u == nil {
			u = &url.URL{Scheme: "http", Host: "core-data.edgex.ziti", Path: "/"}
		}
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		return &http.Request{Method: method, URL: u, Header: h, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	}
}

// TestDifferentialHostileRequests: what net/http's Transport refuses to
// send, the pool refuses too, and the peer never sees a request.
func TestDifferentialHostileRequests(t *testing.T) {
	cases := map[string]func() *http.Request{
		"a second request smuggled through the method": request("GET / HTTP/1.1\r\nHost: x\r\n\r\nDELETE", "/api/v3/reading", nil),
		"a method with a space":                        request("GET /admin", "/", nil),
		"a method with a NUL":                          request("GE\x00T", "/", nil),
		"a header name with a colon":                   request("GET", "/", http.Header{"X-A:b": {"1"}}),
		"a header name with a space":                   request("GET", "/", http.Header{"X A": {"1"}}),
		"a header value with CRLF":                     request("GET", "/", http.Header{"X-A": {"1\r\nX-Injected: yes"}}),
		"a header value with a NUL":                    request("GET", "/", http.Header{"X-A": {"a\x00b"}}),
		"an opaque target with CRLF": func() *http.Request {
			r := request("GET", "/", nil)()
			r.URL.Opaque = "/a HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET /b"
			return r
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			addr, requests := scriptedPeer(t, func(w io.Writer) { _, _ = io.WriteString(w, okAnswer) })
			stdErr, poolErr, _, _ := both(t, addr, mk)
			require.Error(t, stdErr, "net/http refuses this request")
			t.Logf("net/http: %v; pool: %v", stdErr, poolErr)
			assert.Error(t, poolErr, "so must the pool")
			assert.Zero(t, requests.Load(), "nothing reached the peer")
		})
	}
	t.Run("a host with CRLF is refused by the pool (net/http cuts it short instead)", func(t *testing.T) {
		var injected atomic.Bool
		addr, _ := scriptedPeer(t, func(w io.Writer) { _, _ = io.WriteString(w, okAnswer) })
		_, poolErr, _, _ := both(t, addr, func() *http.Request {
			r := request("GET", "/", nil)()
			r.Host = "core-data.edgex.ziti\r\nX-Injected: yes"
			return r
		})
		assert.ErrorIs(t, poolErr, ErrInvalidHeader)
		assert.False(t, injected.Load())
	})
	t.Run("a valid request passes both", func(t *testing.T) {
		addr, requests := scriptedPeer(t, func(w io.Writer) { _, _ = io.WriteString(w, okAnswer) })
		stdErr, poolErr, stdCode, poolCode := both(t, addr, request("PATCH", "/api/v3/reading?x=1", http.Header{"X-A": {"1"}}))
		require.NoError(t, stdErr)
		require.NoError(t, poolErr)
		assert.Equal(t, stdCode, poolCode)
		assert.Equal(t, int64(2), requests.Load())
	})
}

// TestDifferentialHostileResponses: what net/http's Transport refuses to
// accept from a peer, the pool refuses too.
func TestDifferentialHostileResponses(t *testing.T) {
	huge := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("a", 1000)+"\r\n", 11*1024) + "Content-Length: 0\r\n\r\n"
	cases := map[string]string{
		"response headers over 10 MiB":          huge,
		"1xx answers whose headers pass 10 MiB": strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </"+strings.Repeat("a", 4000)+">\r\n\r\n", 2700) + okAnswer,
		"a malformed status line":               "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
		"a header line without a colon":         "HTTP/1.1 200 OK\r\nBroken header\r\nContent-Length: 0\r\n\r\n",
		"two different Content-Lengths":         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"a bad chunk":                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
		"a body shorter than its length":        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
		"an unsupported transfer coding":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
		"a negative Content-Length":             "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			addr, _ := scriptedPeer(t, func(w io.Writer) {
				_, _ = io.WriteString(w, answer)
				if c, ok := w.(net.Conn); ok && strings.Contains(name, "shorter") {
					c.Close()
				}
			})
			stdErr, poolErr, _, _ := both(t, addr, request("GET", "/", nil))
			require.Error(t, stdErr, "net/http refuses this answer")
			t.Logf("net/http: %v; pool: %v", stdErr, poolErr)
			assert.Error(t, poolErr, "so must the pool")
		})
	}
	t.Run("101 is refused by the pool (it supports no upgrades)", func(t *testing.T) {
		addr, _ := scriptedPeer(t, func(w io.Writer) {
			_, _ = io.WriteString(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		})
		pool := NewConnPool(func(ctx context.Context, network, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, network, addr)
		}, 1, 0)
		defer pool.CloseIdleConnections()
		_, err := pool.RoundTrip(request("GET", "/", nil)())
		assert.ErrorContains(t, err, "protocol upgrades are not supported")
	})
	t.Run("a few 1xx answers are skipped by both", func(t *testing.T) {
		addr, _ := scriptedPeer(t, func(w io.Writer) {
			_, _ = io.WriteString(w, strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 8)+okAnswer)
		})
		stdErr, poolErr, stdCode, poolCode := both(t, addr, request("GET", "/", nil))
		require.NoError(t, stdErr)
		require.NoError(t, poolErr)
		assert.Equal(t, http.StatusOK, stdCode)
		assert.Equal(t, stdCode, poolCode)
	})
}
