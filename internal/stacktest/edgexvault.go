package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztedge/ztedge/internal/toolchain"
)

// EdgeXVault is a Vault server run the way EdgeX runs its secret store:
// not in dev mode and without api_addr, so that its identity tokens carry
// the path-only issuer "/v1/identity/oidc" (the only issuer EdgeX's
// token-mode services introspect themselves) and no secrets engine is
// mounted at secret/.
type EdgeXVault struct {
	// Address is its API address, http://127.0.0.1:<port>.
	Address string
	// TokenFile holds its root token (mode 0600).
	TokenFile string
	// Token is the root token.
	Token string
}

// StartEdgeXVault starts such a Vault (in-memory storage, one unseal key),
// initialises and unseals it, and stops it when t ends. It fails t, never
// skips it, when Vault cannot start.
func StartEdgeXVault(t testing.TB) *EdgeXVault {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := toolchain.Ensure(ctx, toolchain.Vault, os.Stderr)
	if err != nil {
		t.Fatalf("stacktest: build vault: %v", err)
	}
	ports, err := FreePorts()
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", ports.Vault)
	config := fmt.Sprintf(`storage "inmem" {}
listener "tcp" {
  address     = %q
  tls_disable = true
}
disable_mlock = true
`, listen)
	cfgFile := filepath.Join(dir, "vault.hcl")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "vault.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "-config="+cfgFile)
	// No VAULT_API_ADDR (or other VAULT_*) from the environment: the point
	// is a Vault without api_addr. HOME and TMPDIR stay in the test's folder.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+dir, "TMPDIR="+dir)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logFile, logFile, dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("stacktest: starting vault: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	v := &EdgeXVault{Address: "http://" + listen, TokenFile: filepath.Join(dir, "root-token")}
	fail := func(format string, args ...any) {
		t.Helper()
		log, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
		t.Fatalf("stacktest: vault without api_addr: "+format+"\nvault log:\n%s", append(args, log)...)
	}
	// Wait until it answers (501: not initialised), then init and unseal.
	for {
		code, err := vaultCall(ctx, http.MethodGet, v.Address+"/v1/sys/health", "", nil, nil)
		if err == nil && code != 0 {
			break
		}
		select {
		case <-exited:
			fail("it exited")
		case <-ctx.Done():
			fail("it did not answer: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var init struct {
		Keys      []string `json:"keys_base64"`
		RootToken string   `json:"root_token"`
	}
	if _, err := vaultCall(ctx, http.MethodPut, v.Address+"/v1/sys/init", "", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &init); err != nil || len(init.Keys) != 1 || init.RootToken == "" {
		fail("init: %v", err)
	}
	if _, err := vaultCall(ctx, http.MethodPut, v.Address+"/v1/sys/unseal", "", map[string]string{"key": init.Keys[0]}, nil); err != nil {
		fail("unseal: %v", err)
	}
	for {
		code, err := vaultCall(ctx, http.MethodGet, v.Address+"/v1/sys/health", "", nil, nil)
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case <-ctx.Done():
			fail("it did not become active: %v (status %d)", err, code)
		case <-time.After(100 * time.Millisecond):
		}
	}
	v.Token = init.RootToken
	if err := os.WriteFile(v.TokenFile, []byte(v.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

// vaultCall sends a JSON request and decodes a JSON answer into out (when
// not nil). It returns the status; statuses of 400 and above other than
// the health endpoint's are errors.
func vaultCall(ctx context.Context, method, url, token string, in, out any) (int, error) {
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, &body)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && !strings.HasSuffix(url, "/sys/health") {
		return resp.StatusCode, fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}
