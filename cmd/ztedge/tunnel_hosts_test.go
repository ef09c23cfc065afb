//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/testhosts"
)

// otherHostCannotConnect runs "ztedge tunnel" on a host "laptop" (a
// network namespace) and checks that a host "other" on the same network
// cannot connect to it, while the laptop itself can. As controls, a
// tunnel given -allow-non-loopback, and "ziti tunnel proxy", are both
// reachable from the other host: the test would see an exposed port. The
// firewall rule docs/tunnel.md gives then keeps the other host out of
// "ziti tunnel proxy".
//
// The laptop reaches the controller and edge router, which listen on the
// machine's loopback, through relays this test runs: sockets listening on
// the laptop's own loopback, at the same ports, connected to the real ones.
func otherHostCannotConnect(t *testing.T, st *stack.State, identity string) {
	n := testhosts.New(t, "laptop", "other")
	laptop, other := n.Host("laptop"), n.Host("other")
	ctrl, err := url.Parse(st.ControllerURL)
	require.NoError(t, err)
	for _, addr := range []string{ctrl.Host, st.RouterAddress} {
		relayInto(t, laptop, addr)
	}
	self, err := os.Executable()
	require.NoError(t, err)
	start := func(label string, args ...string) *testhosts.Process {
		cmd := laptop.Command(context.Background(), self, append([]string{"tunnel", "-i", identity}, args...)...)
		cmd.Env = append(cmd.Env, cliEnv+"=1")
		p, err := laptop.Start(label, cmd)
		require.NoError(t, err)
		waitLog(t, p, "Ctrl-C stops the tunnel", time.Minute)
		return p
	}
	const port, exposedPort, zitiPort = 18080, 18081, 18082
	start("tunnel", fmt.Sprintf("core-data=127.0.0.1:%d", port))

	t.Run("the laptop reaches core-data through its tunnel", func(t *testing.T) {
		assert.Equal(t, `core-data sees caller "operator"`, getVia(t, laptop, fmt.Sprintf("127.0.0.1:%d", port)))
	})

	t.Run("the other host is refused at the laptop's address", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		c, err := other.Dial(ctx, "tcp", laptop.Addr(port))
		if err == nil {
			c.Close()
			t.Fatalf("the other host connected to the laptop's tunnel at %s", laptop.Addr(port))
		}
		assert.ErrorContains(t, err, "connection refused", "the laptop answers, with a reset: nothing listens there")
	})

	t.Run("control: with -allow-non-loopback the other host gets in as operator", func(t *testing.T) {
		p := start("exposed", "-allow-non-loopback", fmt.Sprintf("core-data=0.0.0.0:%d", exposedPort))
		waitLog(t, p, fmt.Sprintf("WARNING: 0.0.0.0:%d is reachable from other hosts", exposedPort), time.Second)
		assert.Equal(t, `core-data sees caller "operator"`, getVia(t, other, laptop.Addr(exposedPort)))
	})

	t.Run("control: ziti tunnel proxy is reachable from the other host", func(t *testing.T) {
		cmd := laptop.Command(context.Background(), st.ZitiBin, "tunnel", "proxy", fmt.Sprintf("edgex.core-data:%d", zitiPort), "-i", identity)
		_, err := laptop.Start("ziti-tunnel-proxy", cmd)
		require.NoError(t, err)
		var last error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			c, err := other.Dial(ctx, "tcp", laptop.Addr(zitiPort))
			cancel()
			if err == nil {
				c.Close()
				assert.Equal(t, `core-data sees caller "operator"`, getVia(t, other, laptop.Addr(zitiPort)),
					"ziti tunnel proxy (1.6.0) lends its identity to any host that reaches it")
				guardWithFirewall(t, laptop, other, zitiPort)
				return
			}
			last = err
		}
		t.Fatalf("ziti tunnel proxy never became reachable from the other host: %v", last)
	})
}

// guardRules is the nftables rule docs/tunnel.md gives for keeping
// "ziti tunnel proxy" to its own host: connections to its port that do not
// come over loopback are dropped.
const guardRules = `table inet ziti-tunnel-guard {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname != "lo" tcp dport %d drop
	}
}
`

// guardWithFirewall applies guardRules on h for port and checks that the
// other host no longer gets in while h itself still does.
func guardWithFirewall(t *testing.T, h, other *testhosts.Host, port int) {
	t.Helper()
	cmd := h.Command(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(guardRules, port))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "nft: %s", out)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if c, err := other.Dial(ctx, "tcp", h.Addr(port)); err == nil {
		c.Close()
		t.Fatalf("the firewall rule of docs/tunnel.md does not keep %s out of %s", other.Name, h.Addr(port))
	}
	assert.Equal(t, `core-data sees caller "operator"`, getVia(t, h, fmt.Sprintf("127.0.0.1:%d", port)),
		"behind the rule, the host itself still reaches the service")
}

// getVia GETs http://addr/ from host h and returns the body.
func getVia(t *testing.T, h *testhosts.Host, addr string) string {
	t.Helper()
	client := h.HTTPClient()
	client.Timeout = 20 * time.Second
	resp, err := client.Get("http://" + addr + "/api/v3/from-" + h.Name)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// relayInto listens on addr inside host h and connects every connection to
// addr on this machine's own network, until the test ends.
func relayInto(t *testing.T, h *testhosts.Host, addr string) {
	t.Helper()
	ln, err := h.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

// waitLog waits until p's log holds want.
func waitLog(t *testing.T, p *testhosts.Process, want string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(p.Log)
		if strings.Contains(string(b), want) {
			return
		}
		if !p.Running() {
			t.Fatalf("%s exited (%v) before logging %q; %s", p.Label, p.Err(), want, p.LogTail(30))
		}
	}
	t.Fatalf("%s did not log %q within %s; %s", p.Label, want, within, p.LogTail(30))
}
