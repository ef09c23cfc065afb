//go:build linux

package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/zerotrust"
)

// helperEnv selects one of the programs this test binary runs inside the
// test hosts (a ztedge service must run in its host's namespace as a
// whole process):
//
//	RELIABILITY_HELPER=service CONFIG [PEER]
//	    a ztedge service in zerotrust mode: GET /whoami answers
//	    "NAME INSTANCE; you are CALLER", INSTANCE random per process; with
//	    PEER it also sends GET PEER/whoami every loadInterval, each request
//	    on its own, and logs one line per request:
//	    "req START_MS LATENCY_US ok INSTANCE" or "req START_MS LATENCY_US fail ERR"
//	RELIABILITY_HELPER=scan IP
//	    logs "open PORT" for each TCP port of IP that accepts, then "scan done"
const helperEnv = "RELIABILITY_HELPER"

// loadInterval is the pause between two requests of the load; loadTimeout
// bounds each request.
const (
	loadInterval = 100 * time.Millisecond
	loadTimeout  = 5 * time.Second
)

func runHelper(mode string, args []string) int {
	switch mode {
	case "service":
		return serviceHelper(args)
	case "scan":
		if len(args) != 1 {
			fmt.Println("usage: IP")
			return 2
		}
		ip, err := netip.ParseAddr(args[0])
		if err != nil {
			fmt.Println(err)
			return 2
		}
		for _, p := range testhosts.ScanTCP(ip) {
			fmt.Println("open", p)
		}
		fmt.Println("scan done")
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 2
}

func serviceHelper(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Println("usage: CONFIG [PEER]")
		return 2
	}
	cfg, err := zerotrust.LoadConfig(args[0])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	instance := hex.EncodeToString(b)
	fmt.Println("instance", instance)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{
		Logger:         slog.New(slog.NewTextHandler(os.Stdout, nil)),
		RequestTimeout: loadTimeout,
		OnServing:      func(api, health net.Addr) { fmt.Println("serving on", api, "health", health) },
	})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer svc.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s; you are %s", cfg.Service.Name, instance, caller.Name(r.Context()))
	})
	if len(args) == 2 {
		peer, ok := cfg.Clients[args[1]]
		if !ok {
			fmt.Println("no client", args[1], "in the configuration")
			return 2
		}
		go load(ctx, svc.HTTPClient(), peer.BaseURL()+"/whoami")
	}
	if err := svc.Serve(ctx, mux); err != nil {
		fmt.Println("serve:", err)
		return 1
	}
	return 0
}

// load sends a GET to url every loadInterval until ctx ends, logging each
// outcome.
func load(ctx context.Context, client *http.Client, url string) {
	for ctx.Err() == nil {
		start := time.Now()
		outcome := get(ctx, client, url)
		fmt.Printf("req %d %d %s\n", start.UnixMilli(), time.Since(start).Microseconds(), outcome)
		time.Sleep(loadInterval)
	}
}

// get does one GET and describes its outcome: "ok INSTANCE" for a 200
// from the peer, "fail WHY" otherwise.
func get(ctx context.Context, client *http.Client, url string) string {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "fail " + err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return "fail " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("fail status %d", resp.StatusCode)
	}
	fields := strings.Fields(string(body))
	if len(fields) < 2 {
		return "fail unexpected answer"
	}
	return "ok " + strings.TrimSuffix(fields[1], ";")
}
