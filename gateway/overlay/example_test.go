package overlay_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/gateway/overlay"
)

// Start runs the gateway with core-data, a service in zerotrust mode,
// behind it: what "ztedge gateway run" does. It needs a Ziti controller,
// the gateway's enrolled identity (a client of the topology with a dial
// rule to core-data), proxy-auth and nginx, so it is not run as a test;
// gateway/overlay_integration_test.go runs the same against the real stack.
func ExampleStart() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g, err := overlay.Start(ctx, gateway.Config{
		StateDir:     "/var/lib/ztedge/gateway",
		ZitiIdentity: "/etc/ztedge/clients/gateway.json",
		Services:     map[string]string{"core-data": "zerotrust:core-data"},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Stop()
	for _, r := range g.Routes {
		fmt.Printf("https://%s/%s/ -> %s (as %s, through %s)\n", g.Addr, r.Route, r.Service, g.Identity, r.Addr)
	}
	select {
	case <-ctx.Done():
	case <-g.Done():
		log.Print(g.Err())
	}
}
