package testprog

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/zerotrust"
)

// Timeouts of the service's calls: one call of the load, and one call
// asked for on standard input.
const (
	loadCallTimeout = 5 * time.Second
	callTimeout     = 20 * time.Second
)

func serviceProgram(args []string) int {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	loadPeer := fs.String("load", "", "call this peer steadily from the start")
	interval := fs.Duration("interval", 200*time.Millisecond, "pause between the starts of two load calls")
	timeout := fs.Duration("timeout", 15*time.Second, "the service's RequestTimeout")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Println("usage: service [-load PEER] [-interval D] [-timeout D] CONFIG")
		return 2
	}
	cfg, err := zerotrust.LoadConfig(fs.Arg(0))
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
		RequestTimeout: *timeout,
		OnServing:      func(api, health net.Addr) { fmt.Println("serving on", api, "health", health) },
	})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer svc.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s here; you are %s; instance %s", cfg.Service.Name, caller.Name(r.Context()), instance)
	})
	peerURL := func(peer string) string {
		if c, ok := cfg.Clients[peer]; ok {
			return c.BaseURL() + "/whoami"
		}
		return "http://" + naming.InterceptHost(peer) + "/whoami"
	}
	client := svc.HTTPClient()
	if *loadPeer != "" {
		go load(ctx, client, *loadPeer, peerURL(*loadPeer), *interval)
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			id, peer, _ := strings.Cut(sc.Text(), " ")
			if id == "load" {
				go load(ctx, client, peer, peerURL(peer), *interval)
				continue
			}
			callCtx, cancel := context.WithTimeout(ctx, callTimeout)
			fmt.Printf("call %s %s: %s\n", id, peer, get(callCtx, client, peerURL(peer)))
			cancel()
		}
	}()
	if err := svc.Serve(ctx, mux); err != nil {
		fmt.Println("serve:", err)
		return 1
	}
	return 0
}

// load calls url every interval (or right after the previous call when it
// took longer) until ctx ends, printing each call as a load line.
func load(ctx context.Context, client *http.Client, peer, url string, interval time.Duration) {
	for n := 1; ctx.Err() == nil; n++ {
		began := time.Now()
		callCtx, cancel := context.WithTimeout(ctx, loadCallTimeout)
		out := get(callCtx, client, url)
		cancel()
		fmt.Printf("load %d %s %d %d: %s\n", n, peer, began.UnixMilli(), time.Since(began).Microseconds(), out)
		time.Sleep(time.Until(began.Add(interval)))
	}
}

// get does a GET and describes the outcome in one line: "STATUS BODY" or
// "error WHY".
func get(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "error " + err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return "error " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.ReplaceAll(strings.TrimSpace(string(body)), "\n", " "))
}
