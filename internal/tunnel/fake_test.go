package tunnel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeOverlay stands in for a Ziti context: services are local TCP
// servers, permissions and intercepts are maps.
type fakeOverlay struct {
	name       string
	perms      map[string]permission
	intercepts map[string]string // "host:port" -> service
	servers    map[string]string // service -> local address hosting it
	dials      atomic.Int32
	closed     atomic.Bool
}

func (f *fakeOverlay) identity() string { return f.name }

func (f *fakeOverlay) permission(s string) permission { return f.perms[s] }

func (f *fakeOverlay) serviceFor(host string, port uint16) (string, bool) {
	s, ok := f.intercepts[net.JoinHostPort(host, fmt.Sprint(port))]
	return s, ok
}

func (f *fakeOverlay) dial(ctx context.Context, s string, _ []byte) (net.Conn, error) {
	f.dials.Add(1)
	switch f.perms[s] {
	case unlisted:
		return nil, &DialError{Service: s, Identity: f.name, Refused: true, Reason: reasonUnlisted}
	case bindOnly:
		return nil, &DialError{Service: s, Identity: f.name, Refused: true, Reason: reasonBindOnly}
	}
	if s == "edgex.hang" { // a dial that never completes
		<-ctx.Done()
		return nil, &DialError{Service: s, Identity: f.name, Reason: "timeout", Err: ctx.Err()}
	}
	addr, ok := f.servers[s]
	if !ok {
		return nil, &DialError{Service: s, Identity: f.name, Reason: reasonNoServer}
	}
	return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
}

func (f *fakeOverlay) close() { f.closed.Store(true) }

// syncBuffer is a log safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// whoami is a service answering "<service> for <path>".
func whoami(t *testing.T, service string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s for %s (Host %s)", service, r.URL.Path, r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// echoUntilEOF is a raw TCP service that answers with what it read once
// its peer has half-closed.
func echoUntilEOF(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte("got: "), b...))
			}()
		}
	}()
	return ln.Addr().String()
}

// standardFake is an "operator" that may dial core-data (hosted) and
// core-metadata (not hosted), bind device-virtual, and sees nothing else.
func standardFake(t *testing.T) *fakeOverlay {
	return &fakeOverlay{
		name: "operator",
		perms: map[string]permission{
			"edgex.core-data": dialable, "edgex.core-metadata": dialable,
			"edgex.device-virtual": bindOnly, "edgex.echo": dialable, "legacy": dialable, "edgex.headers": dialable, "edgex.hang": dialable,
		},
		intercepts: map[string]string{
			"core-data.edgex.ziti:80": "edgex.core-data", "core-metadata.edgex.ziti:80": "edgex.core-metadata",
			"device-virtual.edgex.ziti:80": "edgex.device-virtual", "headers.edgex.ziti:80": "edgex.headers",
		},
		servers: map[string]string{
			"edgex.core-data": whoami(t, "core-data"), "legacy": whoami(t, "legacy"), "edgex.echo": echoUntilEOF(t),
			"edgex.headers": newHeaderEcho(t),
		},
	}
}

// loopback0 is 127.0.0.1 with a port picked by the system.
var loopback0 = netip.MustParseAddrPort("127.0.0.1:0")

// startFake opens and serves a tunnel over f; it stops at the test's end.
func startFake(t *testing.T, f *fakeOverlay, o Options) (*Tunnel, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	o.Log = log
	tn, err := open(t.Context(), o, func(context.Context, func(string, ...any)) (overlay, error) { return f, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tn.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return tn, log
}

// get fetches url with client and returns status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// waitFor polls cond for a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
