package tunnel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/ztedge/ztedge/internal/tunnel"
)

func ExampleParseForward() {
	for _, arg := range []string{"core-data=18080", "edgex.core-metadata=[::1]:18081", "core-data=0.0.0.0:18080"} {
		f, err := tunnel.ParseForward(arg)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s on %s (loopback: %t)\n", f.Name, f.Listen, f.Listen.Addr().IsLoopback())
	}
	// Output:
	// core-data on 127.0.0.1:18080 (loopback: true)
	// edgex.core-metadata on [::1]:18081 (loopback: true)
	// core-data on 0.0.0.0:18080 (loopback: false)
}

// Open authenticates with an enrolled client identity and listens on
// loopback; Serve forwards until the context ends (here: Ctrl-C).
func ExampleOpen() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fw, err := tunnel.ParseForward("core-data=18080")
	if err != nil {
		log.Fatal(err)
	}
	t, err := tunnel.Open(ctx, "operator.json", tunnel.Options{Forwards: []tunnel.Forward{fw}})
	if err != nil {
		log.Fatal(err) // a bad identity file, an unreachable controller, a port in use
	}
	for _, r := range t.Routes() {
		fmt.Printf("%s -> %s\n", r.Addr, r.Service)
	}
	if err := t.Serve(ctx); err != nil {
		log.Fatal(err)
	}
}
