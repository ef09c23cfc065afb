package tunnel

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tunnel serves a bounded number of connections at once, forwards and
// proxy together: more wait (in the listen backlog) until one ends,
// instead of each costing a goroutine and an overlay dial.
func TestConnectionsAreBounded(t *testing.T) {
	f := standardFake(t)
	tn, log := startFake(t, f, Options{DialTimeout: 500 * time.Millisecond, maxConns: 2, HTTP: loopback0,
		Forwards: []Forward{{Name: "hang", Listen: loopback0}}})
	hang := tn.Routes()[0].Addr.String()
	for range 2 {
		c, err := net.Dial("tcp", hang)
		require.NoError(t, err)
		defer c.Close()
	}
	waitFor(t, "two dials", func() bool { return f.dials.Load() == 2 })
	third, err := net.Dial("tcp", hang)
	require.NoError(t, err, "the kernel still queues the connection")
	defer third.Close()
	proxyAddr, _ := tn.HTTPAddr()
	viaProxy, err := net.Dial("tcp", proxyAddr.String())
	require.NoError(t, err)
	defer viaProxy.Close()
	_, err = viaProxy.Write([]byte("CONNECT core-data.edgex.ziti:80 HTTP/1.1\r\nHost: core-data.edgex.ziti:80\r\n\r\n"))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	assert.EqualValues(t, 2, f.dials.Load(), "a connection over the bound was served")
	waitFor(t, "the log line", func() bool { return strings.Contains(log.String(), "2 connections open") })

	// The first two dials time out and their connections end: the
	// waiting ones are served.
	waitFor(t, "the waiting connections", func() bool { return f.dials.Load() == 4 })
}
