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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvStateDir, "")
	t.Setenv(EnvVaultPort, "")
	t.Setenv(EnvCtrlPort, "")
	t.Setenv(EnvRouterPort, "")
	t.Setenv("XDG_STATE_HOME", "/xdg-state")
	cfg := ConfigFromEnv()
	require.Equal(t, "/xdg-state/ztedge/stack", cfg.StateDir, "default state dir")
	require.Equal(t, 18200, cfg.VaultPort, "default Vault port")
	require.Equal(t, 18280, cfg.ControllerPort, "default controller port")
	require.Equal(t, 18281, cfg.RouterPort, "default router port")
	require.NoError(t, cfg.validatePorts(), "default ports clash")
	require.True(t, cfg.VaultTLS, "Vault runs with TLS by default")

	t.Setenv(EnvStateDir, "/somewhere")
	t.Setenv(EnvVaultPort, "28200")
	t.Setenv(EnvCtrlPort, "28280")
	t.Setenv(EnvRouterPort, "nope")
	cfg = ConfigFromEnv()
	require.Equal(t, "/somewhere", cfg.StateDir, "state dir override")
	require.Equal(t, 28200, cfg.VaultPort, "Vault port override")
	require.Equal(t, 28280, cfg.ControllerPort, "controller port override")
	require.ErrorContains(t, cfg.validatePorts(), EnvRouterPort, "a non-numeric router port should be reported naming the variable")
}

func TestConfigFromEnvVaultTLS(t *testing.T) {
	for v, want := range map[string]bool{"": true, "1": true, "TRUE": true, "yes": true, "0": false, "false": false, " No ": false} {
		t.Setenv(EnvVaultTLS, v)
		cfg := ConfigFromEnv()
		assert.Equal(t, want, cfg.VaultTLS, "%s=%q", EnvVaultTLS, v)
		assert.NoError(t, cfg.envErr, "%s=%q", EnvVaultTLS, v)
	}
	t.Setenv(EnvVaultTLS, "maybe")
	cfg := ConfigFromEnv()
	assert.True(t, cfg.VaultTLS, "a bad value must not pick the dev server")
	cfg.StateDir = t.TempDir()
	_, err := Up(context.Background(), cfg)
	require.ErrorContains(t, err, `ZTEDGE_VAULT_TLS="maybe"`, "Up should name the bad variable")
	cfg.SetVaultTLS(false)
	assert.False(t, cfg.VaultTLS)
	assert.NoError(t, cfg.envErr, "a -vault-tls flag overrides the variable and its error")
}

func TestValidatePortsCatchesVaultClusterClash(t *testing.T) {
	cfg := Config{VaultPort: 18200, ControllerPort: 18201, RouterPort: 18281}
	err := cfg.validatePorts()
	require.ErrorContains(t, err, "vault cluster", "want a clash with Vault's cluster port")
	require.ErrorContains(t, err, "18201", "want a clash with Vault's cluster port")
}

func TestCheckPortsFreeNamesTheBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	err = checkPortsFree([]namedPort{{busy, "vault"}})
	want := "port " + strconv.Itoa(busy) + " (vault) is already in use by another process"
	require.EqualError(t, err, want)

	l2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	free := l2.Addr().(*net.TCPAddr).Port
	l2.Close()
	require.NoError(t, checkPortsFree([]namedPort{{free, "ziti router"}}), "free port reported busy")
}

func TestCheckPortsFreeSeesWildcardListener(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	require.Error(t, checkPortsFree([]namedPort{{port, "ziti router"}}), "port %d held on 0.0.0.0 was reported free", port)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

func TestStateFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, ensureStateDir(dir))
	require.Equal(t, os.FileMode(0o700), mode(t, dir), "state dir mode")
	st := &State{
		VaultAddress: "http://127.0.0.1:1", ControllerURL: "https://127.0.0.1:2", RouterAddress: "127.0.0.1:3",
		VaultTokenFile: filepath.Join(dir, vaultTokenName), ZitiPasswordFile: filepath.Join(dir, zitiPasswordName),
		ZitiUsername: "admin", StateDir: dir, VaultPID: 11, ZitiPID: 12,
	}
	require.NoError(t, writePrivate(st.VaultTokenFile, []byte("tok-123\n")))
	require.NoError(t, writePrivate(st.ZitiPasswordFile, []byte("pw'456\n")))
	require.NoError(t, saveState(st))
	require.NoError(t, writePrivate(st.EnvFile(), []byte(envFileContent(st, "tok-123", "pw'456"))))
	for _, name := range []string{stateFileName, vaultTokenName, zitiPasswordName, envFileName} {
		assert.Equal(t, os.FileMode(0o600), mode(t, filepath.Join(dir, name)), "%s mode", name)
	}

	data, _ := os.ReadFile(filepath.Join(dir, stateFileName))
	assert.NotContains(t, string(data), "tok-123", "stack.json contains a secret")
	assert.NotContains(t, string(data), "456", "stack.json contains a secret")
	got, err := loadState(dir)
	require.NoError(t, err)
	require.Equal(t, *st, *got, "state round trip")
	tok, err := got.VaultToken()
	require.NoError(t, err, "VaultToken")
	require.Equal(t, "tok-123", tok, "VaultToken")
	pw, err := got.ZitiPassword()
	require.NoError(t, err, "ZitiPassword")
	require.Equal(t, "pw'456", pw, "ZitiPassword")

	// stack.env must survive a shell: source it and print the values back.
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s|%s|%s' "$VAULT_ADDR" "$VAULT_TOKEN" "$ZITI_PWD"`, "sh", st.EnvFile()).CombinedOutput()
	require.NoError(t, err, "source stack.env:\n%s", out)
	require.Equal(t, "http://127.0.0.1:1|tok-123|pw'456", string(out), "stack.env values via sh")
}

func TestLoadStateMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	_, err := loadState(dir)
	require.ErrorIs(t, err, errNoState, "missing state")
	require.NoError(t, os.WriteFile(filepath.Join(dir, stateFileName), []byte("{"), 0o600))
	_, err = loadState(dir)
	require.ErrorContains(t, err, "corrupt", "corrupt state")
}

func TestRandomSecretsDiffer(t *testing.T) {
	a, _ := randomSecret("p-", 24)
	b, _ := randomSecret("p-", 24)
	require.NotEqual(t, a, b, "two secrets are the same")
	require.True(t, strings.HasPrefix(a, "p-"), "secret %q lacks its prefix", a)
	require.Len(t, a, 2+48, "secret %q", a)
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	cmd := exec.Command(sleep, "300")
	require.NoError(t, cmd.Start())
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
	require.True(t, processMatches(pid, cmd.Path, "300"), "pid %d running %s 300 should match", pid, cmd.Path)
	require.True(t, processMatches(pid, cmd.Path, ""), "an empty marker should match any arguments")
	require.False(t, processMatches(pid, "/opt/ztedge/vault", "300"), "a different binary must not match (pid reuse safety)")
	require.False(t, processMatches(pid, cmd.Path, "server"), "different arguments must not match")
	require.False(t, processMatches(0, cmd.Path, ""), "non-positive pids must not match")
	require.False(t, processMatches(-1, cmd.Path, ""), "non-positive pids must not match")
	// A killed but not yet reaped child is a zombie: not a match.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for processMatches(pid, cmd.Path, "300") {
		require.False(t, time.Now().After(deadline), "killed process %d still matches", pid)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartDetachedAndStopProcessGroup(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "p.log")
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	// The shell starts a child in its group and reports the child's pid.
	p, err := startDetached("test", sh, []string{"-c", "sleep 300 & echo child=$!; wait"}, os.Environ(), dir, logPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), mode(t, logPath), "log mode")
	pgid, err := syscall.Getpgid(p.pid)
	require.NoError(t, err, "getpgid")
	require.Equal(t, p.pid, pgid, "process group of detached process %d: want its own", p.pid)
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(p.pid), 0, 0)
	require.Zero(t, errno, "getsid")
	require.Equal(t, p.pid, int(sid), "session of detached process %d: want its own", p.pid)
	child := 0
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 {
		data, _ := os.ReadFile(logPath)
		if _, v, ok := strings.Cut(string(data), "child="); ok {
			child, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		require.False(t, time.Now().After(deadline), "no child pid in log: %q", data)
		time.Sleep(20 * time.Millisecond)
	}
	bystander := startSleep(t)

	found, err := stopProcess(t.Context(), p.pid, sh, "-c", 5*time.Second)
	require.NoError(t, err, "stopProcess")
	require.True(t, found, "stopProcess found no process")
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "process did not exit")
	}
	deadline = time.Now().Add(5 * time.Second)
	for alive(child) {
		require.False(t, time.Now().After(deadline), "child %d of the stopped process group is still alive", child)
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, alive(bystander.Process.Pid), "an unrelated process was stopped")
}

func TestStopProcessIgnoresMismatchedPid(t *testing.T) {
	cmd := startSleep(t)
	found, err := stopProcess(t.Context(), cmd.Process.Pid, "/opt/ztedge/ziti", zitiMarker, time.Second)
	require.NoError(t, err, "stopProcess on a mismatched pid")
	require.False(t, found, "stopProcess on a mismatched pid: want not found")
	require.True(t, alive(cmd.Process.Pid), "mismatched process was signalled")
}

func TestDownWithReusedPidsLeavesThemAlone(t *testing.T) {
	dir := t.TempDir()
	a, b := startSleep(t), startSleep(t)
	// A stale state whose pids now belong to unrelated processes.
	st := &State{StateDir: dir, VaultPID: a.Process.Pid, ZitiPID: b.Process.Pid,
		VaultBin: "/opt/ztedge/vault", ZitiBin: "/opt/ztedge/ziti",
		VaultTokenFile: filepath.Join(dir, vaultTokenName), ZitiPasswordFile: filepath.Join(dir, zitiPasswordName)}
	require.NoError(t, saveState(st))
	require.NoError(t, writePrivate(st.VaultTokenFile, []byte("t\n")))
	var out bytes.Buffer
	require.NoError(t, Down(t.Context(), Config{StateDir: dir, Progress: &out}), "Down")
	require.True(t, alive(a.Process.Pid), "Down signalled processes it did not start")
	require.True(t, alive(b.Process.Pid), "Down signalled processes it did not start")
	assert.Contains(t, out.String(), "was not running", "Down should say the recorded processes were not running")
	for _, name := range []string{stateFileName, vaultTokenName} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.ErrorIs(t, err, os.ErrNotExist, "Down left %s behind", name)
	}
}

func TestDownAndStatusWhenNotUp(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, Down(t.Context(), Config{StateDir: dir, Progress: &out}), "Down on an empty state dir")
	assert.Contains(t, out.String(), "nothing to stop", "Down should say there is nothing to stop")
	out.Reset()
	require.NoError(t, Down(t.Context(), Config{StateDir: filepath.Join(dir, "missing"), Progress: &out}), "Down on a missing state dir")
	_, err := os.Stat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist, "Down created the missing state dir")
	st, h, err := Status(t.Context(), Config{StateDir: dir})
	require.NoError(t, err, "Status when not up")
	require.Nil(t, st, "Status when not up: state")
	require.False(t, h.Healthy(), "Status when not up: healthy %+v", h)
	require.False(t, h.Vault.Up, "Status when not up: Vault up")
}

func TestWaitForReportsExitWithRedactedLogTail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "v.log")
	sh, _ := exec.LookPath("sh")
	p, err := startDetached("vault", sh, []string{"-c", "echo starting; echo 'Root Token: s3cr3t-root'; echo 'using pw hunter2'; exit 3"},
		os.Environ(), dir, logPath)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = waitFor(ctx, p, "vault to answer", []string{"hunter2"}, func(context.Context) error {
		return errors.New("connection refused")
	})
	require.Error(t, err, "waitFor succeeded on a dead process")
	msg := err.Error()
	for _, want := range []string{"vault exited while waiting for vault to answer", "exit status 3", "starting", "v.log"} {
		assert.Contains(t, msg, want, "error")
	}
	for _, secret := range []string{"s3cr3t-root", "hunter2"} {
		assert.NotContains(t, msg, secret, "error leaks a secret")
	}
}

func TestChildEnvDropsVaultAndZitiSettings(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "VAULT_TOKEN=x", "ZITI_HOME=/y", "HOME=/h"})
	require.Equal(t, []string{"PATH=/bin", "HOME=/h"}, env, "childEnv")
}
