package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

// buildProbe compiles the EdgeX module's service (interop/edgex) with the
// dependency versions of its own go.mod, as EdgeX's services are built.
func buildProbe(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgex-probe")
	dir, err := filepath.Abs("edgex")
	require.NoError(t, err)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	// The checksum database refuses some of these modules; go.sum pins them.
	cmd.Env = append(os.Environ(), "GONOSUMDB="+os.Getenv("GONOSUMDB")+",github.com/openziti,github.com/michaelquigley,github.com/edgexfoundry", "GOFLAGS=-buildvcs=false")
	started := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the EdgeX probe: %s", out)
	t.Logf("built the EdgeX probe in %s", time.Since(started).Round(time.Millisecond))
	return bin
}

// probe is the EdgeX service running as its own process.
type probe struct {
	cmd     *exec.Cmd
	log     *stacktest.Buffer
	exited  chan struct{}
	exitErr error
}

// startProbe runs the EdgeX probe with its configuration folder and the
// given environment (on top of a clean one: PATH and HOME only).
func startProbe(t testing.TB, bin string, env []string) *probe {
	t.Helper()
	res, err := filepath.Abs(filepath.Join("edgex", "res"))
	require.NoError(t, err)
	p := &probe{log: &stacktest.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "-cd", res)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		// EdgeX retries its start for this long before it gives up.
		"EDGEX_STARTUP_DURATION=30", "EDGEX_STARTUP_INTERVAL=1"}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() || testing.Verbose() {
			t.Logf("EdgeX probe log:\n%s", p.log.String())
		}
	})
	return p
}

// stop interrupts the probe and waits for it to end.
func (p *probe) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitExit waits for the probe to end by itself and returns its log.
func (p *probe) waitExit(t testing.TB, within time.Duration) string {
	t.Helper()
	select {
	case <-p.exited:
		return p.log.String()
	case <-time.After(within):
		t.Fatalf("the EdgeX probe did not exit within %s:\n%s", within, p.log.String())
		return ""
	}
}

// eventually calls f every 200 ms until it returns nil, failing t with the
// last error and the probe's log after within.
func (p *probe) eventually(t testing.TB, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("%s: the EdgeX probe exited (%v):\n%s", what, p.exitErr, p.log.String())
		default:
		}
		if err = f(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v\nEdgeX probe log:\n%s", what, err, p.log.String())
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// getStatus sends GET url with c and returns the status and body.
func getStatus(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, strings.TrimSpace(b.String()), nil
}

// envList turns NAME=value pairs into os/exec's form.
func envList(pairs ...string) []string {
	if len(pairs)%2 != 0 {
		panic("envList: odd number of arguments")
	}
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, fmt.Sprintf("%s=%s", pairs[i], pairs[i+1]))
	}
	return out
}
