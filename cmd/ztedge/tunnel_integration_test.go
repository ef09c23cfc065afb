//go:build linux

package main

// Integration tests of "ztedge tunnel" against a real Vault, Ziti controller
// and edge router: the tunnel runs as its own process (this test binary,
// re-executed as the ztedge command), the way a user runs it.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

// tunnelProcess is "ztedge tunnel" running as a child of the test.
type tunnelProcess struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// startTunnel runs "ztedge tunnel args..." and waits until it says it
// listens. It is stopped at the end of the test.
func startTunnel(t *testing.T, args ...string) *tunnelProcess {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	p := &tunnelProcess{done: make(chan struct{})}
	p.cmd = exec.Command(self, append([]string{"tunnel"}, args...)...)
	p.cmd.Env = append(os.Environ(), cliEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("ztedge tunnel %q\nstdout:\n%s\nstderr:\n%s", args, p.stdout.String(), p.stderr.String())
		}
	})
	p.waitOutput(t, "Ctrl-C stops the tunnel", time.Minute)
	return p
}

// waitOutput waits until the tunnel's stdout or stderr holds want.
func (p *tunnelProcess) waitOutput(t *testing.T, want string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(p.stdout.String(), want) || strings.Contains(p.stderr.String(), want) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("ztedge tunnel exited (%v) before printing %q:\n%s\n%s", p.err, want, p.stdout.String(), p.stderr.String())
		default:
		}
	}
	t.Fatalf("ztedge tunnel did not print %q within %s:\n%s\n%s", want, within, p.stdout.String(), p.stderr.String())
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveWhoami runs service name of the topology in zerotrust mode in this
// process, answering every request with the caller the overlay names.
func serveWhoami(t *testing.T, st *stack.State, top *provisioning.Topology, name string) {
	t.Helper()
	cfg := &zerotrust.Config{Service: zerotrust.ServiceConfig{Name: name, SecurityOptions: zerotrust.SecurityOptions{
		zerotrust.KeyMode:         "zerotrust",
		zerotrust.KeyController:   st.ControllerURL,
		zerotrust.KeyControllerCA: st.ZitiCAFile,
		zerotrust.KeyCredentials:  credentials.Path(top.Output, name),
	}}}
	require.NoError(t, cfg.Validate())
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{
		Logger:    slog.New(slog.DiscardHandler),
		OnServing: func(net.Addr, net.Addr) { close(ready) },
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- svc.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s sees caller %q", name, caller.Name(r.Context()))
		}))
	}()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("%s stopped: %v", name, err)
	case <-time.After(time.Minute):
		t.Fatalf("%s did not bind", name)
	}
}

// curl GETs target with curl (through proxy, if not empty) and returns the
// HTTP status and body; without curl on the machine, Go's client does.
func curl(t *testing.T, proxy, target string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if bin, err := exec.LookPath("curl"); err == nil {
		args := []string{"-sS", "--max-time", "20", "-w", "\n%{http_code}", target}
		if proxy != "" {
			args = append(args, "-x", proxy)
		}
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		require.NoError(t, err, "curl %s: %s", target, out)
		i := bytes.LastIndexByte(out, '\n')
		require.GreaterOrEqual(t, i, 0, "curl output %q", out)
		var n int
		_, err = fmt.Sscan(string(out[i+1:]), &n)
		require.NoError(t, err, "curl output %q", out)
		return n, string(out[:i])
	}
	t.Log("curl is not installed: using Go's HTTP client")
	tr := &http.Transport{}
	if proxy != "" {
		u, err := url.Parse(proxy)
		require.NoError(t, err)
		tr.Proxy = http.ProxyURL(u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// loopbackPort is "127.0.0.1:<a free port>".
func loopbackPort(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)) }

func TestIntegrationTunnel(t *testing.T) {
	stacktest.Integration(t)
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, "../../examples/topology.yaml", nil)
	identity := credentials.IdentityPath(top.Output, "operator")
	serveWhoami(t, st, top, "core-data")

	coreData, coreMetadata, device, proxy := loopbackPort(t), loopbackPort(t), loopbackPort(t), loopbackPort(t)
	tun := startTunnel(t, "-i", identity, "core-data="+coreData, "core-metadata="+coreMetadata,
		"device-virtual="+device, "-http", proxy)

	t.Run("it prints what it forwards", func(t *testing.T) {
		out := tun.stdout.String()
		assert.Contains(t, out, `Tunnel open as Ziti identity "operator"`)
		assert.Regexp(t, coreData+` +-> edgex\.core-data +curl http://`+coreData+`/`, out)
		assert.Regexp(t, device+` +-> edgex\.device-virtual +refused until a Dial policy allows it`, out)
		assert.Contains(t, out, proxy+"        HTTP proxy for http://<service>.edgex.ziti")
		assert.Contains(t, out, "Listening on loopback only.")
		assert.Contains(t, tun.stderr.String(), `warning: identity "operator" may not dial the ziti service "edgex.device-virtual"`)
	})

	t.Run("curl through the tunnel reaches core-data, which sees the identity operator", func(t *testing.T) {
		code, body := curl(t, "", "http://"+coreData+"/api/v3/anything")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, `core-data sees caller "operator"`, body)
	})

	t.Run("a service the identity may not dial is refused with a clear message", func(t *testing.T) {
		code, body := curl(t, "", "http://"+device+"/api/v3/ping")
		assert.Equal(t, http.StatusForbidden, code)
		assert.Equal(t, `ztedge tunnel: identity "operator" may not dial the ziti service "edgex.device-virtual": `+
			`the controller lists no such service for it (no Dial policy allows it, or the service does not exist)`+"\n", body)
		tun.waitOutput(t, "(device-virtual): identity \"operator\" may not dial", 5*time.Second)
	})

	t.Run("a permitted service nobody hosts is 502 and says so", func(t *testing.T) {
		code, body := curl(t, "", "http://"+coreMetadata+"/api/v3/ping")
		assert.Equal(t, http.StatusBadGateway, code)
		assert.Contains(t, body, `ziti service "edgex.core-metadata": nothing hosts the service right now (is it running?)`)
	})

	t.Run("the HTTP proxy reaches services by intercept name and nothing else", func(t *testing.T) {
		code, body := curl(t, "http://"+proxy, "http://core-data.edgex.ziti/api/v3/x")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, `core-data sees caller "operator"`, body)
		code, body = curl(t, "http://"+proxy, "http://device-virtual.edgex.ziti/api/v3/ping")
		assert.Equal(t, http.StatusForbidden, code)
		assert.Contains(t, body, `identity "operator" may not dial the ziti service "edgex.device-virtual"`)
		code, body = curl(t, "http://"+proxy, "http://"+st.VaultAddress[len("http://"):]+"/v1/sys/health")
		assert.Equal(t, http.StatusForbidden, code, "an underlay address is never reached through the proxy")
		assert.Contains(t, body, "not an overlay address")
	})

	t.Run("it listens on loopback only", func(t *testing.T) {
		assertListens(t, tun.cmd.Process.Pid, coreData, coreMetadata, device, proxy)
	})

	t.Run("another host cannot connect to it", func(t *testing.T) {
		otherHostCannotConnect(t, st, identity)
	})

	t.Run("it keeps forwarding after the controller and edge router restart", func(t *testing.T) {
		require.NoError(t, stacktest.RestartController(t.Context(), st))
		restarted := time.Now()
		var code int
		var body string
		for time.Since(restarted) < 3*time.Minute {
			code, body = curlOnce("http://" + coreData + "/api/v3/after-restart")
			if code == http.StatusOK {
				break
			}
			time.Sleep(time.Second)
		}
		require.Equal(t, http.StatusOK, code, "no answer through the tunnel 3 minutes after the restart: %s", body)
		assert.Equal(t, `core-data sees caller "operator"`, body)
		t.Logf("measured: core-data answered through the same tunnel process %s after the controller and router were back",
			time.Since(restarted).Round(100*time.Millisecond))
		select {
		case <-tun.done:
			t.Fatal("the tunnel exited during the restart")
		default:
		}
	})

	t.Run("Ctrl-C stops it cleanly", func(t *testing.T) {
		began := time.Now()
		require.NoError(t, tun.cmd.Process.Signal(os.Interrupt))
		select {
		case <-tun.done:
		case <-time.After(10 * time.Second):
			t.Fatal("ztedge tunnel did not stop within 10 s of SIGINT")
		}
		assert.NoError(t, tun.err, "exit status 0")
		assert.Less(t, time.Since(began), 7*time.Second)
		assert.Contains(t, tun.stdout.String(), "Tunnel closed.")
		for _, a := range []string{coreData, proxy} {
			_, err := net.DialTimeout("tcp", a, time.Second)
			assert.Error(t, err, "%s still accepts connections", a)
		}
	})
}

// curlOnce is one GET with Go's client, for polling.
func curlOnce(target string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(target)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// assertListens checks from /proc that process pid listens on exactly the
// given addresses.
func assertListens(t *testing.T, pid int, addrs ...string) {
	t.Helper()
	got, err := netstat.Listening(pid)
	require.NoError(t, err)
	var want []netip.AddrPort
	for _, a := range addrs {
		want = append(want, netip.MustParseAddrPort(a))
	}
	assert.ElementsMatch(t, want, got)
	for _, a := range got {
		assert.True(t, a.Addr().IsLoopback(), "%s is not loopback", a)
	}
}
