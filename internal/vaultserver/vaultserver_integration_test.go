package vaultserver_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/toolchain"
	"github.com/ztedge/ztedge/internal/vaultserver"
)

// TestIntegrationVaultServerSurvivesARestart runs the pinned Vault with
// the generated TLS and file storage: it is initialised once, answers
// only over TLS with the generated CA, and after a restart KeepUnsealed
// unseals it again and the root token still works; neither the unseal key
// nor the root token appears in Vault's log.
func TestIntegrationVaultServerSurvivesARestart(t *testing.T) {
	stacktest.Integration(t)
	bin, err := toolchain.Ensure(t.Context(), toolchain.Vault, os.Stderr)
	require.NoError(t, err)
	p := vaultserver.Paths{Dir: t.TempDir()}
	port := freePortPair(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	addr := "https://" + listen
	require.NoError(t, vaultserver.WriteTLS(p, []net.IP{net.IPv4(127, 0, 0, 1)}, nil))
	require.NoError(t, vaultserver.WriteConfig(p, listen, addr))
	client, err := vaultserver.HTTPClient(p, nil)
	require.NoError(t, err)
	logFile := filepath.Join(p.Dir, "vault.log")

	start := func() *exec.Cmd {
		logf, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		defer logf.Close()
		cmd := exec.Command(bin, vaultserver.Args(p)...)
		cmd.Env = []string{"HOME=" + p.Dir, "PATH=" + os.Getenv("PATH")}
		cmd.Stdout, cmd.Stderr = logf, logf
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	waitStatus := func() {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if _, err := vaultserver.SealStatus(t.Context(), client, addr); err == nil {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("vault does not answer: %v", err)
			}
		}
	}
	first := start()
	waitStatus()
	root, err := vaultserver.Init(t.Context(), client, addr, p)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, lookupSelf(t, client, addr, root))

	t.Run("plain http is refused", func(t *testing.T) {
		resp, err := http.Get("http://" + listen + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		}
	})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	unsealed := make(chan struct{}, 4)
	go vaultserver.KeepUnsealed(ctx, client, addr, p, 250*time.Millisecond, func() { unsealed <- struct{}{} })

	require.NoError(t, first.Process.Signal(os.Interrupt))
	_ = first.Wait()
	began := time.Now()
	start()
	select {
	case <-unsealed:
	case <-time.After(2 * time.Minute):
		t.Fatal("vault was not unsealed after its restart")
	}
	t.Logf("timing: vault restarted and unsealed in %s", time.Since(began).Round(time.Millisecond))
	assert.Equal(t, http.StatusOK, lookupSelf(t, client, addr, root), "the root token survives the restart")

	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	init, err := os.ReadFile(p.InitFile())
	require.NoError(t, err)
	assert.NotContains(t, string(log), root)
	key := strings.Split(strings.Split(string(init), `"keys_base64":["`)[1], `"`)[0]
	assert.NotContains(t, string(log), key)
}

func lookupSelf(t *testing.T, c *http.Client, addr, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, addr+"/v1/auth/token/lookup-self", nil)
	require.NoError(t, err)
	req.Header.Set("X-Vault-Token", token)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// freePortPair finds a loopback port whose next port is free too (Vault's
// cluster listener).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("no free pair of ports")
	return 0
}
