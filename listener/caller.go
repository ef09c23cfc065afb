package listener

import (
	"context"
	"net"

	"github.com/ztedge/ztedge/caller"
)

// dialerIdentity is what an inbound overlay connection tells of its dialer.
// sdk-golang's edge.Conn implements it.
type dialerIdentity interface {
	// SourceIdentifier is the name the dialing SDK asserted.
	SourceIdentifier() string
	// GetDialerIdentityName is the name a Ziti 2.x router took from its own
	// validated session; empty with older routers.
	GetDialerIdentityName() string
}

// CallerOf returns the Ziti identity that dialed an inbound overlay
// connection, and false for any other connection. Where the edge router
// vouches for the dialer (Ziti 2.x routers add the identity from their own
// validated session), that name is used and marked verified; otherwise
// (Ziti 1.x routers) the name is the one the dialing SDK asserted, which
// the router passes on unchecked, and Verified is false.
func CallerOf(c net.Conn) (caller.Info, bool) {
	d, ok := c.(dialerIdentity)
	if !ok {
		return caller.Info{}, false
	}
	if name := d.GetDialerIdentityName(); name != "" {
		return caller.Info{Name: name, Source: caller.Overlay, Verified: true}, true
	}
	if name := d.SourceIdentifier(); name != "" {
		return caller.Info{Name: name, Source: caller.Overlay}, true
	}
	return caller.Info{}, false
}

// ConnContext is an http.Server ConnContext hook that puts the caller of
// each inbound overlay connection (see [CallerOf]) in the contexts of its
// requests.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if who, ok := CallerOf(c); ok {
		return caller.With(ctx, who)
	}
	return ctx
}
