package health

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	var notReady error
	h := &Handler{Service: "core-data", PingPath: "/api/v3/ping", Ready: func() error { return notReady }}
	do := func(method, target string) (int, PingResponse) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		var p PingResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, p
	}
	code, p := do("GET", "/api/v3/ping")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "core-data", p.ServiceName)
	assert.Nil(t, p.Ready, "plain ping is liveness only")
	code, _ = do("HEAD", "/api/v3/ping")
	assert.Equal(t, http.StatusOK, code)
	code, _ = do("POST", "/api/v3/ping")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	for _, path := range []string{"/api/v3/reading", "/", "/api/v3/ping/x", "/api/v3%2Fping"} {
		code, _ = do("GET", path)
		assert.Equal(t, http.StatusNotFound, code, path)
	}
	code, p = do("GET", "/api/v3/ping?ready")
	assert.Equal(t, http.StatusOK, code)
	require.NotNil(t, p.Ready)
	assert.True(t, *p.Ready)
	notReady = errors.New("the ziti service is not bound")
	code, p = do("GET", "/api/v3/ping?ready")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	require.NotNil(t, p.Ready)
	assert.False(t, *p.Ready)
	assert.Equal(t, "the ziti service is not bound", p.Reason)
	code, _ = do("GET", "/api/v3/ping")
	assert.Equal(t, http.StatusOK, code, "liveness does not depend on readiness")
}

func TestLimitConnsClosesConnectionsBeyondTheLimit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ll := LimitConns(l, 2)
	defer ll.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		clients = append(clients, c)
	}
	first, second := <-accepted, <-accepted
	// The third was closed at once: its read ends.
	require.NoError(t, clients[2].SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = clients[2].Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	// Closing one frees a slot.
	require.NoError(t, first.Close())
	_ = first.Close() // a second Close releases nothing more
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	select {
	case fourth := <-accepted:
		fourth.Close()
	case <-time.After(2 * time.Second):
		require.FailNow(t, "a freed slot was not reused")
	}
	second.Close()
	for _, c := range clients {
		c.Close()
	}
}

func TestServerCutsSlowClients(t *testing.T) {
	srv := Server(&Handler{Service: "x", PingPath: "/api/v3/ping"}, nil)
	assert.Equal(t, ReadTimeout, srv.ReadHeaderTimeout)
	assert.Equal(t, WriteTimeout, srv.WriteTimeout)
	assert.Equal(t, IdleTimeout, srv.IdleTimeout)
	assert.Equal(t, MaxHeader, srv.MaxHeaderBytes)
}
