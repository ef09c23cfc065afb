package stack

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as fake vault and ziti binaries when started
// with ZTEDGE_STACK_FAKE=1: "server ..." serves Vault's health endpoint,
// "edge quickstart ..." prints a few lines and exits 2.
func TestMain(m *testing.M) {
	if os.Getenv("ZTEDGE_STACK_FAKE") == "1" {
		os.Exit(fakeTool(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeTool(args []string) int {
	switch {
	case len(args) > 0 && args[0] == vaultMarker:
		addr := ""
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "-dev-listen-address="); ok {
				addr = v
			}
		}
		fmt.Println("fake vault listening on", addr)
		fmt.Println("Root Token:", os.Getenv("VAULT_DEV_ROOT_TOKEN_ID"))
		mux := http.NewServeMux()
		ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
		mux.HandleFunc("/v1/sys/health", ok)
		mux.HandleFunc("/v1/auth/token/create-orphan", ok)
		mux.HandleFunc("/v1/auth/token/revoke-self", ok)
		if err := http.ListenAndServe(addr, mux); err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case len(args) > 1 && args[1] == zitiMarker:
		fmt.Println("fake quickstart starting")
		fmt.Println("Token: 1234-session")
		fmt.Println("fatal: cannot bind controller port")
		return 2
	}
	fmt.Println("fake tool: unexpected arguments", args)
	return 1
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestUpReportsDeadZitiAndCleansUp(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("ZTEDGE_STACK_FAKE", "1")
	dir := t.TempDir()
	vaultPort := freeLoopbackPort(t)
	for try := 0; ; try++ {
		if ok, _ := portFree(vaultPort + 1); ok {
			break
		}
		require.Less(t, try, 20, "found no free pair of adjacent loopback ports")
		vaultPort = freeLoopbackPort(t)
	}
	var progress bytes.Buffer
	cfg := Config{
		StateDir:       dir,
		VaultPort:      vaultPort,
		ControllerPort: freeLoopbackPort(t),
		RouterPort:     freeLoopbackPort(t),
		ZitiBin:        self,
		VaultBin:       self,
		Progress:       &progress,
	}
	_, err = Up(t.Context(), cfg)
	require.Error(t, err, "Up succeeded with a ziti that exits")
	msg := err.Error()
	t.Logf("Up error:\n%s", msg)
	for _, want := range []string{"ziti exited while waiting for the ziti controller", "exit status 2",
		"fatal: cannot bind controller port", filepath.Join(dir, "ziti.log")} {
		assert.Contains(t, msg, want, "error")
	}
	assert.NotContains(t, msg, "1234-session", "error leaks the logged session token")
	assert.Contains(t, progress.String(), "vault is up", "the fake vault should have come up first")
	// Up stopped the vault it had started, saved no state and removed the
	// secrets it had written; the logs stay.
	for _, name := range []string{stateFileName, vaultTokenName, zitiPasswordName, envFileName} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.ErrorIs(t, err, os.ErrNotExist, "a failed Up left %s behind", name)
	}
	for _, name := range []string{vaultLogName, zitiLogName} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.NoError(t, err, "a failed Up should keep %s", name)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		free, _ := portFree(vaultPort)
		if free {
			break
		}
		require.False(t, time.Now().After(deadline), "the fake vault still holds port %d after the failed Up", vaultPort)
		time.Sleep(50 * time.Millisecond)
	}
	// The Vault log has the token (Vault prints it), but stays private.
	assert.Equal(t, os.FileMode(0o600), mode(t, filepath.Join(dir, vaultLogName)), "vault.log mode")
}

func TestUpRefusesBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	self, _ := os.Executable()
	cfg := Config{StateDir: t.TempDir(), VaultPort: freeLoopbackPort(t), ControllerPort: busy,
		RouterPort: freeLoopbackPort(t), ZitiBin: self, VaultBin: self}
	if cfg.VaultPort+1 == cfg.RouterPort || cfg.VaultPort+1 == busy {
		cfg.VaultPort = freeLoopbackPort(t)
	}
	_, err = Up(t.Context(), cfg)
	want := "port " + strconv.Itoa(busy) + " (ziti controller) is already in use by another process"
	require.EqualError(t, err, want, "Up with a busy controller port")
}
