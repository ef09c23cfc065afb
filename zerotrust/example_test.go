package zerotrust_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/zerotrust"
)

// A ztedge service: load the configuration, start, serve, call peers,
// close. The same code runs in zerotrust mode (no API port; peers over
// Ziti) and in plain, token-based mode (a TCP port; JWTs required).
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg, err := zerotrust.LoadConfig("configuration.yaml")
	if err != nil {
		slog.Error("bad configuration", "err", err)
		return
	}
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{})
	if err != nil {
		slog.Error("cannot start", "err", err) // never a fallback to plain TCP
		return
	}
	defer svc.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", caller.Name(r.Context()))
	})
	// Only device-virtual may post; its call arrives over Ziti.
	mux.Handle("POST /api/v3/reading", caller.Allow("device-virtual")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })))

	// A peer, by its intercept address, over Ziti and with this service's JWT.
	go func() {
		resp, err := svc.HTTPClient().Get(cfg.Clients["core-metadata"].BaseURL() + "/api/v3/ping")
		if err == nil {
			resp.Body.Close()
		}
	}()

	if err := svc.Serve(ctx, mux); err != nil {
		slog.Error("serving", "err", err)
	}
}

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
	// zerotrust: Service.SecurityOptions.OpenZitiController: missing (zerotrust mode needs the Ziti controller)
	// Service.SecurityOptions.VaultCredentialsFile: missing (zerotrust mode needs the service's Vault credentials, or an enrolled identity in OpenZitiIdentityFile)
}

// New refuses a configuration it cannot run securely, before touching the
// network.
func ExampleNew() {
	cfg, _ := zerotrust.ParseConfig([]byte("Service:\n  Name: core-data\n  Port: 59880\n"))
	_, err := zerotrust.New(context.Background(), cfg, zerotrust.Options{})
	fmt.Println(err)
	// Output:
	// zerotrust: Service.SecurityOptions: JWTs are required (RequireJWT is true by default in plain mode) but neither VaultCredentialsFile nor VaultAddress says where Vault is; set one, or set RequireJWT to false to run without authentication
}
