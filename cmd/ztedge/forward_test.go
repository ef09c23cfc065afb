package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/zerotrust"
)

func forwardConfig(t *testing.T) *zerotrust.Config {
	t.Helper()
	cfg, err := zerotrust.ParseConfig([]byte(`Service:
  Name: beta
  SecurityOptions:
    Mode: zerotrust
    OpenZitiController: https://127.0.0.1:1280
    VaultCredentialsFile: /nonexistent/credentials.json
Clients:
  redis:
    Protocol: tcp
    Port: 6379
    SecurityOptions:
      Mode: zerotrust
  metrics:
    Host: 127.0.0.1
    Port: 9090
    SecurityOptions:
      Mode: plain
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestForwardRoutes(t *testing.T) {
	cfg := forwardConfig(t)
	routes, err := forwardRoutes(cfg, []string{"redis=16379", "redis=[::1]:16380"})
	require.NoError(t, err)
	require.Len(t, routes, 2)
	assert.Equal(t, "redis.edgex.ziti:6379", routes[0].target, "the dependency's intercept address")
	assert.Equal(t, "127.0.0.1:16379", routes[0].listen.String())
	assert.Equal(t, "[::1]:16380", routes[1].listen.String())

	for arg, want := range map[string]string{
		"redis":                 "want PEER=[ADDRESS:]PORT",
		"nobody=1":              `the configuration has no client "nobody"`,
		"metrics=1":             `client "metrics" is not in zerotrust mode`,
		"redis=198.51.100.1:80": "is not a loopback address",
		"redis=x":               `forward: "redis=x"`,
	} {
		_, err := forwardRoutes(cfg, []string{arg})
		assert.ErrorContains(t, err, want, arg)
	}
}

func TestForwardNeedsConfigAndRoutes(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runForward(context.Background(), []string{"redis=16379"}, &out, &errOut)
	var ue usageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "-config CONFIG.yaml is required")
	err = runForward(context.Background(), []string{"-config", "x.yaml"}, &out, &errOut)
	assert.ErrorContains(t, err, "nothing to forward")
}

// failingListener fails its first fails accepts, as a listener out of file
// descriptors does.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// echoDial "dials" an in-memory peer that echoes, counting dials.
func echoDial(dials *atomic.Int32) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		a, b := net.Pipe()
		go func() { _, _ = io.Copy(b, b); b.Close() }()
		return a, nil
	}
}

func startForwarder(t *testing.T, fails int32, maxConns int, dials *atomic.Int32) (string, *bytes.Buffer) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &failingListener{Listener: inner}
	ln.fails.Store(fails)
	var stderr bytes.Buffer
	fw := newForwarder(echoDial(dials), maxConns, &stderr)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { fw.serve(ctx, ln, "peer:1"); close(done) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return inner.Addr().String(), &stderr
}

func echoes(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
}

func TestForwardKeepsAcceptingAfterAnError(t *testing.T) {
	var dials atomic.Int32
	addr, _ := startForwarder(t, 2, 8, &dials)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	echoes(t, c)
	assert.Equal(t, int32(1), dials.Load())
}

func TestForwardBoundsConnections(t *testing.T) {
	var dials atomic.Int32
	addr, _ := startForwarder(t, 0, 1, &dials)
	first, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	echoes(t, first)
	second, err := net.Dial("tcp", addr) // waits in the backlog
	require.NoError(t, err)
	defer second.Close()
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int32(1), dials.Load(), "the second connection waits for a slot")
	first.Close()
	echoes(t, second)
	assert.Equal(t, int32(2), dials.Load())
}
