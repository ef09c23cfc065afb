//go:build linux

package multihost_test

import (
	"bufio"
	"context"
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

	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/zerotrust"
)

// More programs the test binary runs inside the hosts for
// TestIntegrationDeployment:
//
//	MULTIHOST_SDK=service CONFIG        a ztedge service in zerotrust mode
//	                                    (zerotrust.New, Serve): GET /whoami
//	                                    answers its name and its caller; each
//	                                    line "ID PEER" on stdin calls PEER's
//	                                    /whoami over Ziti and logs
//	                                    "call ID PEER: STATUS BODY" or
//	                                    "call ID PEER: error ERR"; the line
//	                                    "load PEER" starts calling PEER
//	                                    steadily (see load)
//	MULTIHOST_SDK=client IDENTITY +SVC… -SVC…
//	                                    a tunneler-like client with an enrolled
//	                                    identity: GET /whoami of each +SVC
//	                                    (retrying until it answers) and of each
//	                                    -SVC (three tries, each must fail)
//	MULTIHOST_SDK=scan IP               connects to every TCP port of IP and
//	                                    logs "open PORT" for each that accepts
func deployHelper(mode string, args []string) (int, bool) {
	switch mode {
	case "service":
		return serviceHelper(args), true
	case "client":
		return clientHelper(args), true
	case "scan":
		return scanHelper(args), true
	}
	return 0, false
}

func serviceHelper(args []string) int {
	if len(args) != 1 {
		fmt.Println("usage: CONFIG")
		return 2
	}
	cfg, err := zerotrust.LoadConfig(args[0])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{
		Logger:         slog.New(slog.NewTextHandler(os.Stdout, nil)),
		RequestTimeout: 15 * time.Second,
		OnServing:      func(api, health net.Addr) { fmt.Println("serving on", api, "health", health) },
	})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer svc.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s here; you are %s", cfg.Service.Name, caller.Name(r.Context()))
	})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			id, peer, _ := strings.Cut(sc.Text(), " ")
			url := "http://" + naming.InterceptHost(peer) + "/whoami"
			if c, ok := cfg.Clients[peer]; ok {
				url = c.BaseURL() + "/whoami"
			}
			if id == "load" {
				go load(ctx, svc.HTTPClient(), peer, url)
				continue
			}
			fmt.Printf("call %s %s: %s\n", id, peer, get(ctx, svc.HTTPClient(), url))
		}
	}()
	if err := svc.Serve(ctx, mux); err != nil {
		fmt.Println("serve:", err)
		return 1
	}
	return 0
}

// loadInterval and loadTimeout pace the steady calls of load.
const (
	loadInterval = 200 * time.Millisecond
	loadTimeout  = 5 * time.Second
)

// load calls url every loadInterval (or right after the previous call
// when it took longer) until ctx ends, logging each as
// "load N PEER START_MS END_MS: OUTCOME" with Unix milliseconds.
func load(ctx context.Context, client *http.Client, peer, url string) {
	for n := 1; ctx.Err() == nil; n++ {
		began := time.Now()
		callCtx, cancel := context.WithTimeout(ctx, loadTimeout)
		out := get(callCtx, client, url)
		cancel()
		fmt.Printf("load %d %s %d %d: %s\n", n, peer, began.UnixMilli(), time.Now().UnixMilli(), out)
		time.Sleep(time.Until(began.Add(loadInterval)))
	}
}

// get does a GET and describes the outcome in one line.
func get(ctx context.Context, client *http.Client, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
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
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

func clientHelper(args []string) int {
	if len(args) < 2 {
		fmt.Println("usage: IDENTITY +SVC|-SVC...")
		return 2
	}
	zctx, err := ziti.NewContextFromFile(args[0])
	if err != nil {
		fmt.Println("load identity:", err)
		return 1
	}
	defer zctx.Close()
	client := func(svc string) *http.Client {
		return &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				return zctx.Dial(naming.ZitiService(svc))
			},
		}}
	}
	ctx := context.Background()
	for _, a := range args[1:] {
		svc := a[1:]
		url := "http://" + naming.InterceptHost(svc) + "/whoami"
		if a[0] == '+' {
			var out string
			for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
				out = get(ctx, client(svc), url)
				if !strings.HasPrefix(out, "error") || time.Now().After(deadline) {
					break
				}
				fmt.Printf("reach %s (retrying): %s\n", svc, out)
			}
			fmt.Printf("reach %s: %s\n", svc, out)
			continue
		}
		outcome := "refused"
		var last string
		for range 3 {
			last = get(ctx, client(svc), url)
			if !strings.HasPrefix(last, "error") {
				outcome = "reached"
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		fmt.Printf("reach %s: %s (%s)\n", svc, outcome, last)
	}
	fmt.Println("client done")
	return 0
}

func scanHelper(args []string) int {
	if len(args) != 1 {
		fmt.Println("usage: IP")
		return 2
	}
	ip, err := netip.ParseAddr(args[0])
	if err != nil {
		fmt.Println(err)
		return 2
	}
	start := time.Now()
	for _, p := range testhosts.ScanTCP(ip) {
		fmt.Println("open", p)
	}
	fmt.Printf("scan of %s done: 65535 ports in %s\n", ip, time.Since(start).Round(time.Millisecond))
	return 0
}
