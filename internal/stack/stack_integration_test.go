package stack_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
)

// TestStackLifecycle runs the real binaries: up, status, a second up, Vault
// and Ziti logins, and down. The first run builds ziti and vault (several
// minutes); use go test -timeout 40m.
func TestStackLifecycle(t *testing.T) {
	stacktest.Integration(t)
	// End before go test's own -timeout does, so that a slow start fails
	// cleanly and the cleanup still stops the processes.
	deadline := time.Now().Add(38 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-time.Minute).Before(deadline) {
		deadline = d.Add(-time.Minute)
	}
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()

	began := time.Now()
	st, cleanup, err := stacktest.Start(ctx, t.Output())
	require.NoError(t, err)
	t.Cleanup(cleanup)
	t.Logf("stack up in %s (including any tool builds): vault pid %d, ziti pid %d",
		time.Since(began).Round(time.Second), st.VaultPID, st.ZitiPID)

	cfg := configOf(t, st)

	// Status says every component is up.
	got, health, err := stack.Status(ctx, cfg)
	require.NoError(t, err, "Status")
	require.True(t, health.Healthy(), "Status not healthy: vault %s; controller %s; router %s", health.Vault, health.Controller, health.Router)
	require.Equal(t, st.VaultPID, got.VaultPID, "Status's Vault pid differs from Up's")
	require.Equal(t, st.ZitiPID, got.ZitiPID, "Status's ziti pid differs from Up's")

	// A second Up is harmless and returns the running stack.
	var again bytes.Buffer
	cfg.Progress = &again
	st2, err := stack.Up(ctx, cfg)
	require.NoError(t, err, "second Up")
	require.Equal(t, st.VaultPID, st2.VaultPID, "second Up started a new Vault")
	require.Equal(t, st.ZitiPID, st2.ZitiPID, "second Up started a new ziti")
	assert.Contains(t, again.String(), "already up", "second Up should say the stack is already up")
	cfg.Progress = t.Output()

	// Files: state and secrets private, the CA bundle present.
	for _, p := range []string{filepath.Join(st.StateDir, "stack.json"), st.VaultTokenFile, st.ZitiPasswordFile, st.EnvFile()} {
		fi, err := os.Stat(p)
		require.NoError(t, err, "missing %s", p)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode of %s", p)
	}

	token, err := st.VaultToken()
	require.NoError(t, err)
	password, err := st.ZitiPassword()
	require.NoError(t, err)

	// Vault answers with the token, and refuses without it.
	require.Equal(t, http.StatusOK, vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", token), "Vault token lookup-self with the stack token")
	require.Equal(t, http.StatusForbidden, vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", "not-the-token"), "Vault token lookup-self with a wrong token")

	// The management API accepts the admin password (with the CA bundle
	// as the only trust anchor) and refuses the quickstart's bootstrap
	// password, which is visible in the process list.
	pool := caPool(t, st.ZitiCAFile)
	session, err := zitiLogin(st, pool, st.ZitiUsername, password)
	require.NoError(t, err, "management login with the admin password")
	if header, value := session.GetAccessHeader(); assert.Equal(t, "zt-session", header, "session header") {
		require.Equal(t, http.StatusOK, sessionStatus(t, st, pool, value), "a fresh admin session token")
	}
	// Everything the stack listens on is on loopback, the router included.
	for _, pid := range []int{st.ZitiPID, st.VaultPID} {
		ports, err := netstat.Listening(pid)
		require.NoError(t, err)
		for _, p := range ports {
			assert.True(t, p.Addr().IsLoopback(), "pid %d listens on %s, not on loopback", pid, p)
		}
	}
	argv := cmdline(t, st.ZitiPID)
	// Secrets are checked with False, not NotContains, so that a failure
	// does not print them.
	require.False(t, strings.Contains(strings.Join(argv, " "), password), "the admin password is visible in the ziti command line")
	if bootstrap := flagValue(argv, "--password"); assert.NotEmpty(t, bootstrap, "no --password in the ziti command line %q", argv) {
		_, err := zitiLogin(st, pool, st.ZitiUsername, bootstrap)
		require.Error(t, err, "the bootstrap password from the command line still logs in")
	}
	// The quickstart prints the token of the session it opened with the
	// bootstrap password; Up revoked that session.
	// Up restarts the quickstart once (to bind the router to loopback): the
	// first run's log, where the token is, is kept as ziti.log.1.
	firstLog := st.ZitiLogFile() + ".1"
	if qsToken := loggedSessionToken(t, firstLog); assert.NotEmpty(t, qsToken, "no session token found in %s (has the quickstart's output changed?)", firstLog) {
		require.Equal(t, http.StatusUnauthorized, sessionStatus(t, st, pool, qsToken), "the quickstart's logged session token still works")
	}
	// The dev server's own root token (in its environment and its log) was
	// revoked and replaced.
	boot := environValue(t, st.VaultPID, "VAULT_DEV_ROOT_TOKEN_ID")
	if assert.NotEmpty(t, boot, "vault has no VAULT_DEV_ROOT_TOKEN_ID") &&
		assert.False(t, boot == token, "vault's VAULT_DEV_ROOT_TOKEN_ID is the stack's token; want a separate bootstrap token") {
		require.Equal(t, http.StatusForbidden, vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", boot), "the vault bootstrap token still works")
	}
	logData, err := os.ReadFile(st.VaultLogFile())
	require.NoError(t, err)
	require.False(t, bytes.Contains(logData, []byte(token)), "the Vault root token appears in %s", st.VaultLogFile())
	require.False(t, strings.Contains(strings.Join(cmdline(t, st.VaultPID), " "), token), "the Vault token is visible in the vault command line")

	// stack.env works in a shell.
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s %s' "$VAULT_ADDR" "$ZITI_CTRL_URL"`, "sh", st.EnvFile()).CombinedOutput()
	require.NoError(t, err, "source stack.env: %q", out)
	require.Equal(t, st.VaultAddress+" "+st.ControllerURL, string(out), "source stack.env")

	// Down stops exactly the stack's processes.
	bystander := exec.Command("sleep", "300")
	require.NoError(t, bystander.Start())
	defer func() { _ = bystander.Process.Kill(); _ = bystander.Wait() }()

	downStart := time.Now()
	require.NoError(t, stack.Down(ctx, cfg), "Down")
	t.Logf("down in %s", time.Since(downStart).Round(100*time.Millisecond))
	for _, pid := range []int{st.VaultPID, st.ZitiPID} {
		waitGone(t, pid)
	}
	require.True(t, running(bystander.Process.Pid), "Down stopped an unrelated process")
	_, err = os.Stat(filepath.Join(st.StateDir, "stack.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "stack.json still exists after Down")
	got, health, err = stack.Status(ctx, cfg)
	require.NoError(t, err, "Status after Down")
	require.Nil(t, got, "Status after Down: state")
	require.False(t, health.Vault.Up, "Status after Down: Vault up")
	for _, port := range []int{cfg.VaultPort, cfg.ControllerPort, cfg.RouterPort} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if assert.NoError(t, err, "port %d still in use after Down", port) {
			l.Close()
		}
	}

	// Down again is harmless.
	require.NoError(t, stack.Down(ctx, cfg), "second Down")
}

// configOf rebuilds the Config a state was started with.
func configOf(t *testing.T, st *stack.State) stack.Config {
	t.Helper()
	port := func(addr string) int {
		if u, err := url.Parse(addr); err == nil && u.Port() != "" {
			addr = u.Host
		}
		_, p, err := net.SplitHostPort(addr)
		require.NoError(t, err, "address %q", addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	return stack.Config{
		StateDir:       st.StateDir,
		VaultPort:      port(st.VaultAddress),
		ControllerPort: port(st.ControllerURL),
		RouterPort:     port(st.RouterAddress),
		ZitiBin:        st.ZitiBin,
		VaultBin:       st.VaultBin,
		Progress:       t.Output(),
	}
}

func vaultGet(t *testing.T, u, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "GET %s", u)
	resp.Body.Close()
	return resp.StatusCode
}

func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(data), "%s holds no certificates", path)
	return pool
}

func zitiLogin(st *stack.State, pool *x509.CertPool, user, password string) (edgeapis.ApiSession, error) {
	u, err := url.Parse(st.ManagementURL())
	if err != nil {
		return nil, err
	}
	client := edgeapis.NewManagementApiClient([]*url.URL{u}, pool, nil)
	creds := edgeapis.NewUpdbCredentials(user, password)
	creds.CaPool = pool
	return client.Authenticate(creds, nil)
}

func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	require.NoError(t, err, "read cmdline of %d", pid)
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// environValue returns the value of an environment variable of process pid.
func environValue(t *testing.T, pid int, name string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err, "read environment of %d", pid)
	for _, kv := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

func flagValue(argv []string, name string) string {
	for i, a := range argv {
		if a == name && i+1 < len(argv) {
			return argv[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// loggedSessionToken returns the value of the last "Token: " line in a log.
func loggedSessionToken(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	token := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Token: "); ok {
			token = strings.TrimSpace(v)
		}
	}
	return token
}

// sessionStatus calls the management API's current-api-session with a raw
// session token and returns the HTTP status.
func sessionStatus(t *testing.T, st *stack.State, pool *x509.CertPool, token string) int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, st.ManagementURL()+"/current-api-session", nil)
	req.Header.Set("zt-session", token)
	resp, err := client.Do(req)
	require.NoError(t, err, "GET current-api-session")
	resp.Body.Close()
	return resp.StatusCode
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && data[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for running(pid) {
		require.False(t, time.Now().After(deadline), "process %d still runs after Down", pid)
		time.Sleep(50 * time.Millisecond)
	}
}
