package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

func TestGatewayRenderCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9443\nstateDir: state\nservices:\n  core-data: http://127.0.0.1:59880\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"gateway", "render", "-config", file}, &stdout, &stderr); err != nil {
		t.Fatalf("gateway render: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"ssl_protocols TLSv1.3;", "location /core-data/ {", "auth_request /auth;", filepath.Join(dir, "state", "nginx.pid")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("rendered configuration lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, args := range [][]string{{"gateway"}, {"gateway", "launch"}, {"gateway", "render"}, {"user"}, {"user", "add"}, {"user", "rename", "x"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("ztedge %q: exit %d (err %v), want 2", args, code, err)
		}
	}
	// A bad configuration names its field and exits 1.
	if err := os.WriteFile(file, []byte("stateDir: /x\nservices:\n  core-data: ftp://h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"gateway", "render", "-config", file}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(err.Error(), "services.core-data") {
		t.Errorf("bad configuration: exit %d, err %v", code, err)
	}
}

// TestUserCommands runs "ztedge user add" and "ztedge user remove" against
// the real Vault of the shared test stack. It never skips.
func TestUserCommands(t *testing.T) {
	st := stacktest.Shared(t)
	ctx := t.Context()
	t.Setenv("VAULT_TOKEN", "")
	token, err := st.VaultToken()
	if err != nil {
		t.Fatal(err)
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = st.VaultAddress
	root, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(token)
	// What provisioning would have made: the OIDC key, and a service entity.
	if _, err := root.Logical().WriteWithContext(ctx, "identity/oidc/key/ztedge", map[string]any{"algorithm": "ES384", "allowed_client_ids": []string{"edgex"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "core-data", "metadata": map[string]string{"ztedge-managed": "true"}}); err != nil {
		t.Fatal(err)
	}

	vaultFlags := []string{"-vault", st.VaultAddress, "-vault-token-file", st.VaultTokenFile}
	pwFile := filepath.Join(t.TempDir(), "users", "carol.password")
	var stdout, stderr bytes.Buffer
	err = run(ctx, append([]string{"user", "add", "carol", "-password-file", pwFile}, vaultFlags...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, stderr.String())
	}
	st2, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %o, want 0600", st2.Mode().Perm())
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(pw))
	out := stdout.String() + stderr.String()
	if len(password) < 24 || strings.Contains(out, password) {
		t.Errorf("the password (%d chars) is too short or was printed:\n%s", len(password), out)
	}
	for _, want := range []string{pwFile, "/v1/auth/ztedge-userpass/login/carol", "/v1/identity/oidc/token/carol", "curl"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}

	// The password logs in, and the login reads carol's JWT.
	uc, _ := vaultapi.NewClient(cfg)
	uc.ClearToken()
	sec, err := uc.Logical().WriteWithContext(ctx, "auth/ztedge-userpass/login/carol", map[string]any{"password": password})
	if err != nil {
		t.Fatalf("login with the written password: %v", err)
	}
	uc.SetToken(sec.Auth.ClientToken)
	sec, err = uc.Logical().ReadWithContext(ctx, "identity/oidc/token/carol")
	if err != nil || sec == nil || sec.Data["token"] == "" {
		t.Fatalf("reading carol's JWT: %v", err)
	}

	// Services are refused; so are bad names.
	for name, want := range map[string]string{"core-data": "is a ztedge service", "Carol": "lower-case"} {
		stdout.Reset()
		err := run(ctx, append([]string{"user", "add", name, "-password-file", filepath.Join(t.TempDir(), "x")}, vaultFlags...), &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 1 || !strings.Contains(err.Error(), want) {
			t.Errorf("user add %s: exit %d, err %v; want 1 and %q", name, code, err, want)
		}
	}

	stdout.Reset()
	if err := run(ctx, append([]string{"user", "remove", "carol"}, vaultFlags...), &stdout, &stderr); err != nil {
		t.Fatalf("user remove: %v", err)
	}
	if s, _ := root.Logical().ReadWithContext(ctx, "identity/oidc/role/carol"); s != nil {
		t.Error("carol's OIDC role survived remove")
	}
	if _, err := uc.Logical().WriteWithContext(ctx, "auth/ztedge-userpass/login/carol", map[string]any{"password": password}); err == nil {
		t.Error("carol can still log in after remove")
	}
	err = run(ctx, append([]string{"user", "remove", "carol"}, vaultFlags...), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(err.Error(), `no ztedge user "carol"`) {
		t.Errorf("second remove: exit %d, err %v", code, err)
	}
	// With the topology file instead of flags (key, audience and ttl from it).
	for k, v := range stacktest.TopologyEnv(st, t.TempDir()) {
		t.Setenv(k, v)
	}
	topo := []string{"-f", "../../examples/topology.yaml"}
	if err := run(ctx, append([]string{"user", "add", "erin", "-password-file", filepath.Join(t.TempDir(), "erin")}, topo...), &stdout, &stderr); err != nil {
		t.Fatalf("user add -f: %v", err)
	}
	if s, err := root.Logical().ReadWithContext(ctx, "identity/oidc/role/erin"); err != nil || s == nil || s.Data["key"] != "ztedge" || s.Data["client_id"] != "edgex" {
		t.Errorf("erin's OIDC role: %v (%v)", s, err)
	}
	if err := run(ctx, append([]string{"user", "remove", "erin"}, topo...), &stdout, &stderr); err != nil {
		t.Fatalf("user remove -f: %v", err)
	}
	// Without a reachable Vault: a clear error.
	err = run(ctx, []string{"user", "add", "dan", "-vault", "http://127.0.0.1:1", "-vault-token-file", st.VaultTokenFile, "-password-file", filepath.Join(t.TempDir(), "x")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("unreachable Vault: err %v", err)
	}
}

func TestUserOptionsAreCheckedBeforeAnyLogin(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "x")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"user", "add", "alice", "-vault", "http://127.0.0.1:1", "-ttl", "-1h"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "JWT ttl -1h0m0s must be at least 1s") {
		t.Fatalf("want the bad -ttl reported before Vault is contacted, got %v", err)
	}
}

// A password file that cannot be written fails before any request to
// Vault, so the user's old password still works.
func TestUserAddBadPasswordFileFailsBeforeVault(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unexpected", http.StatusInternalServerError)
	}))
	defer srv.Close()
	t.Setenv("VAULT_TOKEN", "x")
	file := filepath.Join(t.TempDir(), "alice.password")
	require.NoError(t, os.WriteFile(file, []byte("old\n"), 0o600))

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"user", "add", "alice", "-vault", srv.URL, "-password-file", filepath.Join(file, "oops")}, &stdout, &stderr)
	require.ErrorContains(t, err, "creating the folder of")
	assert.Equal(t, 1, exitCode(err, &stderr))
	assert.Zero(t, requests.Load(), "requests to Vault")
	got, _ := os.ReadFile(file)
	assert.Equal(t, "old\n", string(got))
}
