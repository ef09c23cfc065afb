package listener

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/caller"
)

// edgeConn stands for sdk-golang's hosting connection.
type edgeConn struct {
	net.Conn
	asserted, routerVerified string
}

func (c edgeConn) SourceIdentifier() string      { return c.asserted }
func (c edgeConn) GetDialerIdentityName() string { return c.routerVerified }

func TestCallerOf(t *testing.T) {
	// Ziti 2.x routers vouch for the dialer: that name wins, verified.
	who, ok := CallerOf(edgeConn{asserted: "core-data", routerVerified: "device-virtual"})
	assert.True(t, ok)
	assert.Equal(t, caller.Info{Name: "device-virtual", Source: caller.Overlay, Verified: true}, who)

	// Ziti 1.x routers pass the SDK's assertion on: not verified.
	who, ok = CallerOf(edgeConn{asserted: "device-virtual"})
	assert.True(t, ok)
	assert.Equal(t, caller.Info{Name: "device-virtual", Source: caller.Overlay}, who)

	_, ok = CallerOf(edgeConn{})
	assert.False(t, ok, "a connection that names no dialer has no caller")
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, ok = CallerOf(a)
	assert.False(t, ok, "a TCP connection has no overlay caller")

	ctx := ConnContext(context.Background(), edgeConn{asserted: "operator"})
	assert.Equal(t, "operator", caller.Name(ctx))
	assert.Equal(t, context.Background(), ConnContext(context.Background(), a))
}

func TestBackoff(t *testing.T) {
	assert.Equal(t, 500*1e6, float64(backoff(1)))
	assert.Equal(t, float64(5e9), float64(backoff(100)))
}

func TestBindRefusesMissingArguments(t *testing.T) {
	_, err := Bind(context.Background(), nil, "edgex.core-data", BindOptions{})
	assert.ErrorContains(t, err, "no Ziti context")
}
