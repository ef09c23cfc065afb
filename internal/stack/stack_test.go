package stack

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvStateDir, "")
	t.Setenv(EnvVaultPort, "")
	t.Setenv(EnvCtrlPort, "")
	t.Setenv(EnvRouterPort, "")
	t.Setenv("XDG_STATE_HOME", "/xdg-state")
	cfg := ConfigFromEnv()
	if cfg.StateDir != "/xdg-state/ztedge/stack" || cfg.VaultPort != 18200 || cfg.ControllerPort != 18280 || cfg.RouterPort != 18281 {
		t.Fatalf("defaults: %+v", cfg)
	}
	if err := cfg.validatePorts(); err != nil {
		t.Fatalf("default ports clash: %v", err)
	}

	t.Setenv(EnvStateDir, "/somewhere")
	t.Setenv(EnvVaultPort, "28200")
	t.Setenv(EnvCtrlPort, "28280")
	t.Setenv(EnvRouterPort, "nope")
	cfg = ConfigFromEnv()
	if cfg.StateDir != "/somewhere" || cfg.VaultPort != 28200 || cfg.ControllerPort != 28280 {
		t.Fatalf("overrides: %+v", cfg)
	}
	if err := cfg.validatePorts(); err == nil || !strings.Contains(err.Error(), EnvRouterPort) {
		t.Fatalf("a non-numeric router port should be reported naming %s, got %v", EnvRouterPort, err)
	}
}

func TestValidatePortsCatchesVaultClusterClash(t *testing.T) {
	cfg := Config{VaultPort: 18200, ControllerPort: 18201, RouterPort: 18281}
	err := cfg.validatePorts()
	if err == nil || !strings.Contains(err.Error(), "vault cluster") || !strings.Contains(err.Error(), "18201") {
		t.Fatalf("want a clash with Vault's cluster port, got %v", err)
	}
}

func TestCheckPortsFreeNamesTheBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	err = checkPortsFree([]namedPort{{busy, "vault"}})
	want := "port " + strconv.Itoa(busy) + " (vault) is already in use by another process"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}

	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l2.Addr().(*net.TCPAddr).Port
	l2.Close()
	if err := checkPortsFree([]namedPort{{free, "ziti router"}}); err != nil {
		t.Fatalf("free port reported busy: %v", err)
	}
}

func TestCheckPortsFreeSeesWildcardListener(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if err := checkPortsFree([]namedPort{{port, "ziti router"}}); err == nil {
		t.Fatalf("port %d held on 0.0.0.0 was reported free", port)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestStateFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ensureStateDir(dir); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("state dir mode %v, want 0700", m)
	}
	st := &State{
		VaultAddress: "http://127.0.0.1:1", ControllerURL: "https://127.0.0.1:2", RouterAddress: "127.0.0.1:3",
		VaultTokenFile: filepath.Join(dir, vaultTokenName), ZitiPasswordFile: filepath.Join(dir, zitiPasswordName),
		ZitiUsername: "admin", StateDir: dir, VaultPID: 11, ZitiPID: 12,
	}
	if err := writePrivate(st.VaultTokenFile, []byte("tok-123\n")); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(st.ZitiPasswordFile, []byte("pw'456\n")); err != nil {
		t.Fatal(err)
	}
	if err := saveState(st); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(st.EnvFile(), []byte(envFileContent(st, "tok-123", "pw'456"))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stateFileName, vaultTokenName, zitiPasswordName, envFileName} {
		if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, m)
		}
	}

	data, _ := os.ReadFile(filepath.Join(dir, stateFileName))
	if bytes.Contains(data, []byte("tok-123")) || bytes.Contains(data, []byte("456")) {
		t.Errorf("stack.json contains a secret:\n%s", data)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *st {
		t.Fatalf("state round trip: got %+v, want %+v", got, st)
	}
	if tok, err := got.VaultToken(); err != nil || tok != "tok-123" {
		t.Fatalf("VaultToken = %q, %v", tok, err)
	}
	if pw, err := got.ZitiPassword(); err != nil || pw != "pw'456" {
		t.Fatalf("ZitiPassword = %q, %v", pw, err)
	}

	// stack.env must survive a shell: source it and print the values back.
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s|%s|%s' "$VAULT_ADDR" "$VAULT_TOKEN" "$ZITI_PWD"`, "sh", st.EnvFile()).CombinedOutput()
	if err != nil {
		t.Fatalf("source stack.env: %v\n%s", err, out)
	}
	if string(out) != "http://127.0.0.1:1|tok-123|pw'456" {
		t.Fatalf("stack.env values via sh: %q", out)
	}
}

func TestLoadStateMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadState(dir); !errors.Is(err, errNoState) {
		t.Fatalf("missing state: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt state: %v", err)
	}
}

func TestRandomSecretsDiffer(t *testing.T) {
	a, _ := randomSecret("p-", 24)
	b, _ := randomSecret("p-", 24)
	if a == b || !strings.HasPrefix(a, "p-") || len(a) != 2+48 {
		t.Fatalf("secrets %q, %q", a, b)
	}
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func alive(pid int) bool {
	st, err := procState(pid)
	return err == nil && st != "Z"
}

func TestProcessMatchesChecksBinaryAndArgs(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	if !processMatches(pid, cmd.Path, "300") {
		t.Fatalf("pid %d running %s 300 should match", pid, cmd.Path)
	}
	if !processMatches(pid, cmd.Path, "") {
		t.Fatalf("an empty marker should match any arguments")
	}
	if processMatches(pid, "/opt/ztedge/vault", "300") {
		t.Fatalf("a different binary must not match (pid reuse safety)")
	}
	if processMatches(pid, cmd.Path, "server") {
		t.Fatalf("different arguments must not match")
	}
	if processMatches(0, cmd.Path, "") || processMatches(-1, cmd.Path, "") {
		t.Fatalf("non-positive pids must not match")
	}
	// A killed but not yet reaped child is a zombie: not a match.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for processMatches(pid, cmd.Path, "300") {
		if time.Now().After(deadline) {
			t.Fatalf("killed process %d still matches", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartDetachedAndStopProcessGroup(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "p.log")
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	// The shell starts a child in its group and reports the child's pid.
	p, err := startDetached("test", sh, []string{"-c", "sleep 300 & echo child=$!; wait"}, os.Environ(), dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, logPath); m != 0o600 {
		t.Errorf("log mode %v, want 0600", m)
	}
	if pgid, err := syscall.Getpgid(p.pid); err != nil || pgid != p.pid {
		t.Fatalf("detached process %d has pgid %d (%v), want its own group", p.pid, pgid, err)
	}
	if sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(p.pid), 0, 0); errno != 0 || int(sid) != p.pid {
		t.Fatalf("detached process %d is in session %d, want its own session", p.pid, sid)
	}
	child := 0
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 {
		data, _ := os.ReadFile(logPath)
		if _, v, ok := strings.Cut(string(data), "child="); ok {
			child, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no child pid in log: %q", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bystander := startSleep(t)

	found, err := stopProcess(t.Context(), p.pid, sh, "-c", 5*time.Second)
	if err != nil || !found {
		t.Fatalf("stopProcess = %v, %v", found, err)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("process did not exit")
	}
	deadline = time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the stopped process group is still alive", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !alive(bystander.Process.Pid) {
		t.Fatalf("an unrelated process was stopped")
	}
}

func TestStopProcessIgnoresMismatchedPid(t *testing.T) {
	cmd := startSleep(t)
	found, err := stopProcess(t.Context(), cmd.Process.Pid, "/opt/ztedge/ziti", zitiMarker, time.Second)
	if err != nil || found {
		t.Fatalf("stopProcess on a mismatched pid = %v, %v; want not found", found, err)
	}
	if !alive(cmd.Process.Pid) {
		t.Fatalf("mismatched process was signalled")
	}
}

func TestDownWithReusedPidsLeavesThemAlone(t *testing.T) {
	dir := t.TempDir()
	a, b := startSleep(t), startSleep(t)
	// A stale state whose pids now belong to unrelated processes.
	st := &State{StateDir: dir, VaultPID: a.Process.Pid, ZitiPID: b.Process.Pid,
		VaultBin: "/opt/ztedge/vault", ZitiBin: "/opt/ztedge/ziti",
		VaultTokenFile: filepath.Join(dir, vaultTokenName), ZitiPasswordFile: filepath.Join(dir, zitiPasswordName)}
	if err := saveState(st); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(st.VaultTokenFile, []byte("t\n")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Down(t.Context(), Config{StateDir: dir, Progress: &out}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if !alive(a.Process.Pid) || !alive(b.Process.Pid) {
		t.Fatalf("Down signalled processes it did not start")
	}
	if !strings.Contains(out.String(), "was not running") {
		t.Errorf("Down should say the recorded processes were not running:\n%s", out.String())
	}
	for _, name := range []string{stateFileName, vaultTokenName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Down left %s behind", name)
		}
	}
}

func TestDownAndStatusWhenNotUp(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Down(t.Context(), Config{StateDir: dir, Progress: &out}); err != nil {
		t.Fatalf("Down on an empty state dir: %v", err)
	}
	if !strings.Contains(out.String(), "nothing to stop") {
		t.Errorf("Down should say there is nothing to stop:\n%s", out.String())
	}
	out.Reset()
	if err := Down(t.Context(), Config{StateDir: filepath.Join(dir, "missing"), Progress: &out}); err != nil {
		t.Fatalf("Down on a missing state dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Down created the missing state dir")
	}
	st, h, err := Status(t.Context(), Config{StateDir: dir})
	if err != nil || st != nil || h.Healthy() || h.Vault.Up {
		t.Fatalf("Status when not up = %v, %+v, %v", st, h, err)
	}
}

func TestWaitForReportsExitWithRedactedLogTail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "v.log")
	sh, _ := exec.LookPath("sh")
	p, err := startDetached("vault", sh, []string{"-c", "echo starting; echo 'Root Token: s3cr3t-root'; echo 'using pw hunter2'; exit 3"},
		os.Environ(), dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = waitFor(ctx, p, "vault to answer", []string{"hunter2"}, func(context.Context) error {
		return errors.New("connection refused")
	})
	if err == nil {
		t.Fatal("waitFor succeeded on a dead process")
	}
	msg := err.Error()
	for _, want := range []string{"vault exited while waiting for vault to answer", "exit status 3", "starting", "v.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, secret := range []string{"s3cr3t-root", "hunter2"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks secret %q:\n%s", secret, msg)
		}
	}
}

func TestChildEnvDropsVaultAndZitiSettings(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "VAULT_TOKEN=x", "ZITI_HOME=/y", "HOME=/h"})
	if strings.Join(env, " ") != "PATH=/bin HOME=/h" {
		t.Fatalf("childEnv = %v", env)
	}
}
