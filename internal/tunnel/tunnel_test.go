package tunnel

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForwardsReachTheirService(t *testing.T) {
	tn, _ := startFake(t, standardFake(t), Options{Forwards: []Forward{
		{Name: "core-data", Listen: loopback0}, {Name: "legacy", Listen: loopback0}}})
	client := &http.Client{Timeout: 5 * time.Second}
	code, body := get(t, client, "http://"+tn.Routes()[0].Addr.String()+"/api/v3/ping")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "core-data for /api/v3/ping (Host "+tn.Routes()[0].Addr.String()+")", body)
	code, body = get(t, client, "http://"+tn.Routes()[1].Addr.String()+"/x")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "legacy for /x")
}

func TestHalfCloseIsPassedOn(t *testing.T) {
	tn, _ := startFake(t, standardFake(t), Options{Forwards: []Forward{{Name: "echo", Listen: loopback0}}})
	c, err := net.Dial("tcp", tn.Routes()[0].Addr.String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(c, "request body")
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "got: request body", string(got))
}

func TestRefusedDialsSayWhy(t *testing.T) {
	f := standardFake(t)
	tn, log := startFake(t, f, Options{Forwards: []Forward{
		{Name: "device-virtual", Listen: loopback0}, {Name: "core-metadata", Listen: loopback0}, {Name: "nope", Listen: loopback0}}})
	client := &http.Client{Timeout: 5 * time.Second}
	r := tn.Routes()

	code, body := get(t, client, "http://"+r[0].Addr.String()+"/api/v3/ping")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, `ztedge tunnel: identity "operator" may not dial the ziti service "edgex.device-virtual": its policies let it host (bind) the service, not dial it`+"\n", body)

	code, body = get(t, client, "http://"+r[1].Addr.String()+"/api/v3/ping")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, body, `ziti service "edgex.core-metadata": nothing hosts the service right now (is it running?)`)

	code, body = get(t, client, "http://"+r[2].Addr.String()+"/?token=secret")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, `may not dial the ziti service "edgex.nope": the controller lists no such service for it`)

	waitFor(t, "three log lines", func() bool { return strings.Count(log.String(), "->") >= 3 })
	assert.Regexp(t, `ztedge tunnel: 127\.0\.0\.1:\d+ -> `+r[0].Addr.String()+` \(device-virtual\): identity "operator" may not dial`, log.String())
	assert.NotContains(t, log.String(), "secret", "paths and queries are never logged")

	t.Run("other protocols are just closed", func(t *testing.T) {
		c, err := net.Dial("tcp", r[0].Addr.String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = io.WriteString(c, "\x16\x03\x01 a TLS hello, say\n")
		require.NoError(t, err)
		got, err := io.ReadAll(c)
		assert.Empty(t, got)
		if err != nil { // a reset is as good as an EOF here
			assert.ErrorContains(t, err, "reset")
		}
	})

	t.Run("a client that sends nothing is closed after a second", func(t *testing.T) {
		c, err := net.Dial("tcp", r[0].Addr.String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		began := time.Now()
		_, err = c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF)
		assert.Less(t, time.Since(began), 3*time.Second)
	})
}

func TestCloseEndsEveryConnection(t *testing.T) {
	f := standardFake(t)
	log := &syncBuffer{}
	tn, err := open(t.Context(), Options{Log: log, DialTimeout: time.Hour,
		Forwards: []Forward{{Name: "echo", Listen: loopback0}, {Name: "hang", Listen: loopback0}}},
		func(context.Context, func(string, ...any)) (overlay, error) { return f, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tn.Serve(ctx) }()

	addr := tn.Routes()[0].Addr.String()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "half a request, never ended")
	require.NoError(t, err)
	hung, err := net.Dial("tcp", tn.Routes()[1].Addr.String())
	require.NoError(t, err)
	defer hung.Close()
	waitFor(t, "both dials", func() bool { return f.dials.Load() == 2 })

	began := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	assert.Less(t, time.Since(began), shutdownGrace, "open connections and dials in progress must not hold the shutdown")
	assert.NotContains(t, log.String(), "did not end", "every goroutine ended")
	assert.True(t, f.closed.Load(), "the overlay is closed")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = bufio.NewReader(c).ReadByte()
	assert.Error(t, err, "the local connection is closed")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "nothing listens any more")
	assert.NoError(t, tn.Close(), "Close after Serve is harmless")
}
