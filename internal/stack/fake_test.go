package stack

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestUpReportsDeadZitiAndCleansUp(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZTEDGE_STACK_FAKE", "1")
	dir := t.TempDir()
	vaultPort := freeLoopbackPort(t)
	for try := 0; ; try++ {
		if ok, _ := portFree(vaultPort + 1); ok {
			break
		}
		if try == 20 {
			t.Fatal("found no free pair of adjacent loopback ports")
		}
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
	if err == nil {
		t.Fatal("Up succeeded with a ziti that exits")
	}
	msg := err.Error()
	t.Logf("Up error:\n%s", msg)
	for _, want := range []string{"ziti exited while waiting for the ziti controller", "exit status 2",
		"fatal: cannot bind controller port", filepath.Join(dir, "ziti.log")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "1234-session") {
		t.Errorf("error leaks the logged session token:\n%s", msg)
	}
	if !strings.Contains(progress.String(), "vault is up") {
		t.Errorf("the fake vault should have come up first:\n%s", progress.String())
	}
	// Up stopped the vault it had started, saved no state and removed the
	// secrets it had written; the logs stay.
	for _, name := range []string{stateFileName, vaultTokenName, zitiPasswordName, envFileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed Up left %s behind", name)
		}
	}
	for _, name := range []string{vaultLogName, zitiLogName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("a failed Up should keep %s: %v", name, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		free, _ := portFree(vaultPort)
		if free {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake vault still holds port %d after the failed Up", vaultPort)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The Vault log has the token (Vault prints it), but stays private.
	if m := mode(t, filepath.Join(dir, vaultLogName)); m != 0o600 {
		t.Errorf("vault.log mode %v, want 0600", m)
	}
}

func TestUpRefusesBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	if err == nil || err.Error() != want {
		t.Fatalf("Up with a busy controller port: %v, want %q", err, want)
	}
}
