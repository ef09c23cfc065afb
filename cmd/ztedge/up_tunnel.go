package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
)

// tunnel starts "ztedge tunnel" with the operator's identity, forwarding a
// loopback port to core-data and serving its HTTP proxy, then shows
// readings through it, its listening sockets, and one call the dial rules
// refuse. It returns the URL of core-data's readings through the tunnel.
func (d *demo) tunnel(ctx context.Context, st *stack.State, ztedge, identity string, o upOptions) (string, error) {
	forward := fmt.Sprintf("core-data=127.0.0.1:%d", o.tunnelPort)
	proxy := fmt.Sprintf("127.0.0.1:%d", o.proxyPort)
	fmt.Fprintf(d.out, "    $ ztedge tunnel -i %s %s -http %s &\n", identity, forward, proxy)
	tun, err := d.start(ctx, st, ztedge, demoEnv(), "tunnel", "-i", identity, forward, "-http", proxy)
	if err != nil {
		return "", err
	}
	readings := fmt.Sprintf("http://127.0.0.1:%d/api/v3/reading", o.tunnelPort)
	fmt.Fprintf(d.out, "    $ curl -s %s\n", readings)
	body, err := fetchWhenReady(ctx, tun, readings, 90*time.Second)
	if err != nil {
		return "", err
	}
	if err := showReadings(d.out, body); err != nil {
		return "", err
	}

	ports, err := netstat.Listening(tun.Process.Pid)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "    ztedge tunnel   pid %-7d listens on %s\n", tun.Process.Pid, formatTunnelPorts(ports))

	proxyURL := &url.URL{Scheme: "http", Host: proxy}
	for _, svc := range []string{"core-data", "device-virtual"} {
		target := fmt.Sprintf("http://%s.edgex.ziti/api/v3/ping", svc)
		fmt.Fprintf(d.out, "    $ curl -s -x %s %s\n", proxyURL, target)
		code, body, err := fetchVia(ctx, proxyURL, target)
		if err != nil {
			return "", fmt.Errorf("through the tunnel's HTTP proxy: %w", err)
		}
		fmt.Fprintf(d.out, "      %d %s\n", code, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(d.out, "    (the operator may dial the core services only: the topology's dial rules)")
	return readings, nil
}

// formatTunnelPorts lists a tunnel's listening addresses and says whether
// they are all on loopback.
func formatTunnelPorts(ports []netip.AddrPort) string {
	if len(ports) == 0 {
		return "nothing"
	}
	s := make([]string, len(ports))
	loopback := true
	for i, p := range ports {
		s[i] = p.String()
		loopback = loopback && p.Addr().IsLoopback()
	}
	if loopback {
		return strings.Join(s, ", ") + " (loopback only)"
	}
	return strings.Join(s, ", ") + " (REACHABLE FROM OTHER HOSTS)"
}

// fetchVia GETs target through an HTTP proxy and returns status and body.
func fetchVia(ctx context.Context, proxy *url.URL, target string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// fetchWhenReady retries url with curl (or Go's client when curl is
// missing) until it returns readings, the tunnel exits or time runs out.
func fetchWhenReady(ctx context.Context, tunnel *exec.Cmd, url string, within time.Duration) ([]byte, error) {
	deadline := time.Now().Add(within)
	var lastErr error
	for time.Now().Before(deadline) {
		if exited(tunnel) {
			return nil, fmt.Errorf("ztedge tunnel exited; the end of its log:%s", logTail(tunnel))
		}
		var body []byte
		if curl, err := exec.LookPath("curl"); err == nil {
			body, lastErr = exec.CommandContext(ctx, curl, "-sf", "--max-time", "5", url).Output()
		} else {
			body, lastErr = fetch(ctx, url)
		}
		if lastErr == nil && bytes.Contains(body, []byte(`"sender"`)) {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("no readings through the tunnel at %s: %v; the end of its log:%s", url, lastErr, logTail(tunnel))
}
