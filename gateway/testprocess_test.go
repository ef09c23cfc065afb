package gateway

// Processes the integration tests start: proxy-auth, and (from package
// gateway_test) the core-data example.

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildProxyAuth compiles cmd/proxy-auth into a temporary folder.
func buildProxyAuth(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "proxy-auth")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ztedge/ztedge/cmd/proxy-auth")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building proxy-auth:\n%s", out)
	return bin
}

// startProxyAuth runs the proxy-auth binary with args on a free port and
// waits until it answers its ping. It returns the auth URL.
func startProxyAuth(t testing.TB, bin string, args ...string) string {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, append([]string{"-listen", addr, "-log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), "VAULT_TOKEN=") // only what the flags say
	startUntilReady(t, "proxy-auth "+addr, cmd, "http://"+addr+DefaultPingPath, 30*time.Second)
	return "http://" + addr + AuthPath
}

// startUntilReady starts cmd with its output in a file, stops it when the
// test ends (SIGTERM, then SIGKILL after 10 s), and waits until url
// answers 200. The test fails, showing the output, if the process exits
// first or url does not answer within the given time.
func startUntilReady(t testing.TB, name string, cmd *exec.Cmd, url string, within time.Duration) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "output.log")
	out, err := os.Create(logFile)
	require.NoError(t, err)
	defer out.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start(), "starting %s", name)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	logs := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs())
		}
	})
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			require.FailNow(t, name+" exited", "%v\n%s", err, logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			require.FailNow(t, name+" was not ready", "within %s:\n%s", within, logs())
		}
	}
}
