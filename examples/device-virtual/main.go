// Command device-virtual is an example ztedge device service: every few
// seconds it posts a reading to core-data over the Ziti overlay with the
// service's client. It binds its own Ziti service edgex.device-virtual
// (for commands; here only ping) and opens no API port.
//
//	device-virtual -config examples/device-virtual/configuration.yaml
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gorilla/mux"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/zerotrust"
)

func main() {
	config := flag.String("config", "examples/device-virtual/configuration.yaml", "configuration file")
	every := flag.Duration("every", 3*time.Second, "how often to post a reading")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, *every, log); err != nil {
		fmt.Fprintln(os.Stderr, "device-virtual:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, configFile string, every time.Duration, log *slog.Logger) error {
	cfg, err := zerotrust.LoadConfig(configFile)
	if err != nil {
		return err
	}
	coreData, ok := cfg.Clients["core-data"]
	if !ok {
		return fmt.Errorf("%s: Clients.core-data is missing", configFile)
	}
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: log, RequestTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer svc.Close()
	go postReadings(ctx, svc.HTTPClient(), coreData.BaseURL()+"/api/v3/reading", every, log)

	// Commands would be routes here; every one requires a caller.
	r := mux.NewRouter()
	r.Use(caller.Require())
	return svc.Serve(ctx, r)
}

// postReadings posts a simulated temperature reading every interval until ctx ends.
func postReadings(ctx context.Context, client *http.Client, url string, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		body, _ := json.Marshal(map[string]any{
			"device": "Random-Float-Device", "resource": "Temperature",
			"value": 20 + 5*rand.Float64(), "origin": time.Now().UTC(),
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			log.Error("building request", "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		switch {
		case err != nil:
			log.Warn("posting a reading failed", "err", err)
		case resp.StatusCode != http.StatusCreated:
			log.Warn("core-data refused the reading", "status", resp.Status)
			resp.Body.Close()
		default:
			log.Info("posted a reading to core-data")
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
