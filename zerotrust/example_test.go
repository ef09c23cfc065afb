package zerotrust_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/ztedge/ztedge/zerotrust"
)

// A service's configuration in EdgeX's shape, overridden from the
// environment the EdgeX way.
func ExampleConfig_ApplyEnv() {
	cfg, err := zerotrust.ParseConfig([]byte(`
Service:
  Name: core-data
  HealthPort: 59980
  SecurityOptions:
    Mode: zerotrust
    OpenZitiController: 127.0.0.1:1280
Clients:
  core-metadata:
    SecurityOptions:
      Mode: zerotrust
`))
	if err != nil {
		panic(err)
	}
	err = cfg.ApplyEnv([]string{
		"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE=/run/ztedge/core-data/credentials.json",
		"CLIENTS_CORE_METADATA_PORT=8080",
	})
	if err != nil {
		panic(err)
	}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	fmt.Println(cfg.Service.Mode(), cfg.Service.ZitiService())
	fmt.Println(cfg.Clients["core-metadata"].BaseURL())
	// Output:
	// zerotrust edgex.core-data
	// http://core-metadata.edgex.ziti:8080
}

// An incomplete zerotrust configuration is refused, naming what is missing.
func ExampleConfig_Validate() {
	cfg, _ := zerotrust.ParseConfig([]byte("Service:\n  Name: core-data\n  SecurityOptions:\n    Mode: zerotrust\n"))
	fmt.Println(cfg.Validate())
	// Output:
	// Service.SecurityOptions.OpenZitiController: missing (zerotrust mode needs the Ziti controller)
	// Service.SecurityOptions.VaultCredentialsFile: missing (zerotrust mode needs the service's Vault credentials)
}

// Routes require an authenticated caller, except ping; a route can be
// restricted to some callers.
func ExampleAllowCallers() {
	mux := http.NewServeMux()
	mux.Handle("/api/v3/reading", zerotrust.AllowCallers("device-virtual")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			caller, _ := zerotrust.Caller(r.Context())
			fmt.Fprintf(w, "hello %s", caller)
		})))
	h := zerotrust.RequireCaller(zerotrust.DefaultPingPath)(mux)

	for _, caller := range []string{"", "operator", "device-virtual"} {
		req := httptest.NewRequest(http.MethodPost, "/api/v3/reading", nil)
		if caller != "" {
			// listener.Server does this for each overlay connection.
			req = req.WithContext(zerotrust.WithCaller(req.Context(), caller))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%q: %d\n", caller, rec.Code)
	}
	// Output:
	// "": 401
	// "operator": 403
	// "device-virtual": 200
}

// Start logs in to Vault, fetches the service's JWT and authenticates to
// the Ziti controller; it fails rather than fall back to plain mode.
func ExampleStart() {
	ctx := context.Background()
	cfg, err := zerotrust.LoadConfig("configuration.yaml")
	if err != nil {
		slog.Error("bad configuration", "err", err)
		return
	}
	rt, err := zerotrust.Start(ctx, cfg, slog.Default())
	if err != nil {
		slog.Error("cannot start", "err", err)
		return
	}
	defer rt.Close()
	me, _ := rt.Overlay.Identity()
	fmt.Println("authenticated as", me)
}
