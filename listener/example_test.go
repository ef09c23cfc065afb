package listener_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/signal"
	"syscall"

	"github.com/gorilla/mux"

	"github.com/ztedge/ztedge/listener"
	"github.com/ztedge/ztedge/zerotrust"
)

// The underlay health server answers only GET and HEAD on the ping path.
func ExamplePingHandler() {
	h := listener.PingHandler("core-data", "/api/v3/ping")
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/api/v3/ping"},
		{http.MethodHead, "/api/v3/ping"},
		{http.MethodPost, "/api/v3/ping"},
		{http.MethodGet, "/api/v3/reading"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		fmt.Println(r.method, r.path, rec.Code)
	}
	// Output:
	// GET /api/v3/ping 200
	// HEAD /api/v3/ping 200
	// POST /api/v3/ping 405
	// GET /api/v3/reading 404
}

// A service serves its gorilla/mux router on its Ziti service and ping on
// its underlay health port until interrupted.
func ExampleServer() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := zerotrust.LoadConfig("configuration.yaml")
	if err != nil {
		slog.Error("bad configuration", "err", err)
		return
	}
	rt, err := zerotrust.Start(ctx, cfg, nil)
	if err != nil {
		slog.Error("cannot start", "err", err)
		return
	}
	defer rt.Close()

	r := mux.NewRouter()
	r.Use(zerotrust.RequireCaller(cfg.Service.PingPath))
	r.HandleFunc("/api/v3/hello", func(w http.ResponseWriter, req *http.Request) {
		caller, _ := zerotrust.Caller(req.Context())
		fmt.Fprintf(w, "hello, %s\n", caller)
	})
	srv := &listener.Server{Config: cfg.Service, Overlay: rt.Overlay, Handler: r}
	if err := srv.Run(ctx); err != nil {
		slog.Error("serving", "err", err)
	}
}
