package listener_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/listener"
)

// Serving HTTP on a bound Ziti service by hand, with an SDK context of
// one's own. (zerotrust.Service.Serve does all this for a service.)
func ExampleBind() {
	var zctx ziti.Context // an authenticated sdk-golang context
	l, err := listener.Bind(context.Background(), zctx, "edgex.core-data", listener.BindOptions{})
	if err != nil {
		slog.Error("cannot bind", "err", err)
		return
	}
	srv := &http.Server{
		ConnContext: listener.ConnContext, // the dialer becomes the caller
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who, _ := caller.From(r.Context())
			fmt.Fprintf(w, "hello %s (verified by the router: %v)\n", who.Name, who.Verified)
		}),
	}
	_ = srv.Serve(l)
}
