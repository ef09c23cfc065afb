package stack_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	t.Logf("stack up in %s (including any tool builds): vault pid %d, ziti pid %d",
		time.Since(began).Round(time.Second), st.VaultPID, st.ZitiPID)

	cfg := configOf(t, st)

	// Status says every component is up.
	got, health, err := stack.Status(ctx, cfg)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if !health.Healthy() {
		t.Fatalf("Status not healthy: vault %s; controller %s; router %s", health.Vault, health.Controller, health.Router)
	}
	if got.VaultPID != st.VaultPID || got.ZitiPID != st.ZitiPID {
		t.Fatalf("Status state %+v differs from Up's %+v", got, st)
	}

	// A second Up is harmless and returns the running stack.
	var again bytes.Buffer
	cfg.Progress = &again
	st2, err := stack.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if st2.VaultPID != st.VaultPID || st2.ZitiPID != st.ZitiPID {
		t.Fatalf("second Up started new processes: %d/%d, was %d/%d", st2.VaultPID, st2.ZitiPID, st.VaultPID, st.ZitiPID)
	}
	if !strings.Contains(again.String(), "already up") {
		t.Errorf("second Up should say the stack is already up:\n%s", again.String())
	}
	cfg.Progress = t.Output()

	// Files: state and secrets private, the CA bundle present.
	for _, p := range []string{filepath.Join(st.StateDir, "stack.json"), st.VaultTokenFile, st.ZitiPasswordFile, st.EnvFile()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("missing %s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}

	token, err := st.VaultToken()
	if err != nil {
		t.Fatal(err)
	}
	password, err := st.ZitiPassword()
	if err != nil {
		t.Fatal(err)
	}

	// Vault answers with the token, and refuses without it.
	if code := vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", token); code != http.StatusOK {
		t.Fatalf("Vault token lookup-self with the stack token: HTTP %d", code)
	}
	if code := vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", "not-the-token"); code != http.StatusForbidden {
		t.Fatalf("Vault token lookup-self with a wrong token: HTTP %d, want 403", code)
	}

	// The management API accepts the admin password (with the CA bundle
	// as the only trust anchor) and refuses the quickstart's bootstrap
	// password, which is visible in the process list.
	pool := caPool(t, st.ZitiCAFile)
	session, err := zitiLogin(st, pool, st.ZitiUsername, password)
	if err != nil {
		t.Fatalf("management login with the admin password: %v", err)
	}
	if header, value := session.GetAccessHeader(); header != "zt-session" {
		t.Errorf("unexpected session header %q", header)
	} else if code := sessionStatus(t, st, pool, value); code != http.StatusOK {
		t.Fatalf("a fresh admin session token: HTTP %d, want 200", code)
	}
	// Everything the stack listens on is on loopback, the router included.
	for _, pid := range []int{st.ZitiPID, st.VaultPID} {
		ports, err := netstat.Listening(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if !p.Addr().IsLoopback() {
				t.Errorf("pid %d listens on %s, not on loopback", pid, p)
			}
		}
	}
	argv := cmdline(t, st.ZitiPID)
	if strings.Contains(strings.Join(argv, " "), password) {
		t.Fatalf("the admin password is visible in the ziti command line")
	}
	if bootstrap := flagValue(argv, "--password"); bootstrap == "" {
		t.Errorf("no --password in the ziti command line %q", argv)
	} else if _, err := zitiLogin(st, pool, st.ZitiUsername, bootstrap); err == nil {
		t.Fatalf("the bootstrap password from the command line still logs in")
	}
	// The quickstart prints the token of the session it opened with the
	// bootstrap password; Up revoked that session.
	// Up restarts the quickstart once (to bind the router to loopback): the
	// first run's log, where the token is, is kept as ziti.log.1.
	firstLog := st.ZitiLogFile() + ".1"
	if qsToken := loggedSessionToken(t, firstLog); qsToken == "" {
		t.Errorf("no session token found in %s (has the quickstart's output changed?)", firstLog)
	} else if code := sessionStatus(t, st, pool, qsToken); code != http.StatusUnauthorized {
		t.Fatalf("the quickstart's logged session token still works: HTTP %d, want 401", code)
	}
	// The dev server's own root token (in its environment and its log) was
	// revoked and replaced.
	if boot := environValue(t, st.VaultPID, "VAULT_DEV_ROOT_TOKEN_ID"); boot == "" || boot == token {
		t.Errorf("vault's VAULT_DEV_ROOT_TOKEN_ID is %q; want a separate bootstrap token", boot)
	} else if code := vaultGet(t, st.VaultAddress+"/v1/auth/token/lookup-self", boot); code != http.StatusForbidden {
		t.Fatalf("the vault bootstrap token still works: HTTP %d, want 403", code)
	}
	if logData, err := os.ReadFile(st.VaultLogFile()); err != nil {
		t.Fatal(err)
	} else if bytes.Contains(logData, []byte(token)) {
		t.Fatalf("the Vault root token appears in %s", st.VaultLogFile())
	}
	if strings.Contains(strings.Join(cmdline(t, st.VaultPID), " "), token) {
		t.Fatalf("the Vault token is visible in the vault command line")
	}

	// stack.env works in a shell.
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s %s' "$VAULT_ADDR" "$ZITI_CTRL_URL"`, "sh", st.EnvFile()).CombinedOutput()
	if err != nil || string(out) != st.VaultAddress+" "+st.ControllerURL {
		t.Fatalf("source stack.env: %q, %v", out, err)
	}

	// Down stops exactly the stack's processes.
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bystander.Process.Kill(); _ = bystander.Wait() }()

	downStart := time.Now()
	if err := stack.Down(ctx, cfg); err != nil {
		t.Fatalf("Down: %v", err)
	}
	t.Logf("down in %s", time.Since(downStart).Round(100*time.Millisecond))
	for _, pid := range []int{st.VaultPID, st.ZitiPID} {
		waitGone(t, pid)
	}
	if !running(bystander.Process.Pid) {
		t.Fatalf("Down stopped an unrelated process")
	}
	if _, err := os.Stat(filepath.Join(st.StateDir, "stack.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stack.json still exists after Down: %v", err)
	}
	if got, health, err := stack.Status(ctx, cfg); err != nil || got != nil || health.Vault.Up {
		t.Fatalf("Status after Down = %v, %+v, %v", got, health, err)
	}
	for _, port := range []int{cfg.VaultPort, cfg.ControllerPort, cfg.RouterPort} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d still in use after Down: %v", port, err)
			continue
		}
		l.Close()
	}

	// Down again is harmless.
	if err := stack.Down(ctx, cfg); err != nil {
		t.Fatalf("second Down: %v", err)
	}
}

// configOf rebuilds the Config a state was started with.
func configOf(t *testing.T, st *stack.State) stack.Config {
	t.Helper()
	port := func(addr string) int {
		if u, err := url.Parse(addr); err == nil && u.Port() != "" {
			addr = u.Host
		}
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("address %q: %v", addr, err)
		}
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
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificates", path)
	}
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
	if err != nil {
		t.Fatalf("read cmdline of %d: %v", pid, err)
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// environValue returns the value of an environment variable of process pid.
func environValue(t *testing.T, pid int, name string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatalf("read environment of %d: %v", pid, err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("GET current-api-session: %v", err)
	}
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
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs after Down", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
