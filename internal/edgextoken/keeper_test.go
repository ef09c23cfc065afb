package edgextoken_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgextoken"
)

// fakeVault answers the AppRole login and the token's self calls the way
// Vault does, for one service.
type fakeVault struct {
	mu       sync.Mutex
	issued   int
	valid    map[string]bool
	ttl      int // seconds the current token has left
	renewals int
	policies []string
	down     bool
}

func newFakeVault() *fakeVault {
	return &fakeVault{valid: map[string]bool{}, ttl: 3600, policies: []string{"default", "ztedge-svc-a"}}
}

func (f *fakeVault) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down {
			http.Error(w, `{"errors":["down"]}`, http.StatusServiceUnavailable)
			return
		}
		tok := r.Header.Get("X-Vault-Token")
		reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
		refuse := func() {
			w.WriteHeader(http.StatusForbidden)
			reply(map[string]any{"errors": []string{"permission denied"}})
		}
		switch r.URL.Path {
		case "/v1/auth/ztedge-approle/login":
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body["role_id"] != "role-1" || body["secret_id"] != "secret-1" {
				w.WriteHeader(http.StatusBadRequest)
				reply(map[string]any{"errors": []string{"invalid role or secret ID"}})
				return
			}
			f.issued++
			tok := "hvs.token-" + string(rune('a'+f.issued))
			f.valid[tok] = true
			f.ttl = 3600
			reply(map[string]any{"auth": map[string]any{
				"client_token": tok, "accessor": "acc-" + tok[len(tok)-1:], "policies": f.policies,
				"token_policies": f.policies, "metadata": map[string]string{"role_name": "svc-a"},
				"entity_id": "entity-1", "lease_duration": 3600, "renewable": true,
			}})
		case "/v1/auth/token/lookup-self":
			if !f.valid[tok] {
				refuse()
				return
			}
			reply(map[string]any{"data": map[string]any{
				"entity_id": "entity-1", "policies": f.policies, "ttl": f.ttl, "period": 3600,
				"renewable": true, "meta": map[string]string{"role_name": "svc-a"},
			}})
		case "/v1/auth/token/renew-self":
			if !f.valid[tok] {
				refuse()
				return
			}
			f.renewals++
			f.ttl = 3600
			reply(map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": 3600, "renewable": true}})
		case "/v1/auth/token/revoke-self":
			if !f.valid[tok] {
				refuse()
				return
			}
			delete(f.valid, tok)
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	})
}

func (f *fakeVault) set(fn func(*fakeVault)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// setup writes a credentials file for a fake Vault and returns a keeper.
func setup(t *testing.T) (*fakeVault, *edgextoken.Keeper) {
	t.Helper()
	fv := newFakeVault()
	srv := httptest.NewServer(fv.handler(t))
	t.Cleanup(srv.Close)
	out := t.TempDir()
	creds := credentials.Path(out, "svc-a")
	require.NoError(t, credentials.Write(creds, &credentials.Service{
		Service: "svc-a", VaultAddress: srv.URL, AuthMount: "ztedge-approle",
		RoleID: "role-1", SecretID: "secret-1", OIDCRole: "svc-a", Audience: "edgex",
	}))
	return fv, &edgextoken.Keeper{Credentials: creds, Path: edgextoken.Path(out, "svc-a")}
}

func TestEnsureWritesEdgeXsFormat(t *testing.T) {
	_, k := setup(t)
	res, err := k.Ensure(context.Background())
	require.NoError(t, err)
	assert.Equal(t, edgextoken.Written, res.Action)
	assert.Equal(t, "no token file yet", res.Reason)

	fi, err := os.Stat(k.Path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(k.Path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	// What EdgeX's token loader reads: auth.client_token and auth.entity_id.
	raw, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	var edgex struct {
		Auth struct {
			ClientToken string `json:"client_token"`
			EntityID    string `json:"entity_id"`
		} `json:"auth"`
	}
	require.NoError(t, json.Unmarshal(raw, &edgex))
	assert.Equal(t, "hvs.token-b", edgex.Auth.ClientToken)
	assert.Equal(t, "entity-1", edgex.Auth.EntityID)
	f, err := edgextoken.Read(k.Path)
	require.NoError(t, err)
	assert.Equal(t, []string{"default", "ztedge-svc-a"}, f.Auth.Policies)
	assert.True(t, f.Auth.Renewable)
	assert.Equal(t, 3600, f.Auth.LeaseDuration)
}

func TestEnsureKeepsRenewsAndReplaces(t *testing.T) {
	fv, k := setup(t)
	ctx := context.Background()
	_, err := k.Ensure(ctx)
	require.NoError(t, err)

	res, err := k.Ensure(ctx)
	require.NoError(t, err)
	assert.Equal(t, edgextoken.Kept, res.Action, "a fresh token is left alone")

	fv.set(func(f *fakeVault) { f.ttl = 1000 })
	res, err = k.Ensure(ctx)
	require.NoError(t, err)
	assert.Equal(t, edgextoken.Renewed, res.Action, "less than half the period left: renewed in place")
	assert.Equal(t, 1, fv.renewals)
	f, _ := edgextoken.Read(k.Path)
	assert.Equal(t, "hvs.token-b", f.Auth.ClientToken, "renewal keeps the token")

	fv.set(func(f *fakeVault) { f.valid = map[string]bool{} }) // expired while nothing renewed it
	res, err = k.Ensure(ctx)
	require.NoError(t, err)
	assert.Equal(t, edgextoken.Written, res.Action)
	assert.Equal(t, "vault no longer accepts its token", res.Reason)
	f, _ = edgextoken.Read(k.Path)
	assert.Equal(t, "hvs.token-c", f.Auth.ClientToken)
}

func TestEnsureLeavesTheFileWhenVaultIsDown(t *testing.T) {
	fv, k := setup(t)
	ctx := context.Background()
	_, err := k.Ensure(ctx)
	require.NoError(t, err)
	before, _ := os.ReadFile(k.Path)
	fv.set(func(f *fakeVault) { f.down = true })
	_, err = k.Ensure(ctx)
	require.Error(t, err)
	after, _ := os.ReadFile(k.Path)
	assert.Equal(t, before, after)
	assert.NotContains(t, err.Error(), "hvs.", "no token in errors")
}

func TestEnsureReplacesAnUnsafeFile(t *testing.T) {
	_, k := setup(t)
	_, err := k.Ensure(context.Background())
	require.NoError(t, err)
	require.NoError(t, os.Chmod(k.Path, 0o644))
	res, err := k.Ensure(context.Background())
	require.NoError(t, err)
	assert.Equal(t, edgextoken.Written, res.Action)
	assert.Contains(t, res.Reason, "readable or writable by group or others")
	fi, _ := os.Stat(k.Path)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestIssueRefusesATokenWithoutTheDefaultPolicy(t *testing.T) {
	fv, k := setup(t)
	fv.set(func(f *fakeVault) { f.policies = []string{"ztedge-svc-a"} })
	_, err := k.Ensure(context.Background())
	require.ErrorContains(t, err, `lacks Vault's "default" policy`)
	_, statErr := os.Stat(k.Path)
	assert.True(t, os.IsNotExist(statErr), "nothing written")
}

func TestWriteRefusesASharedFolder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	f := &edgextoken.File{Auth: edgextoken.Auth{ClientToken: "t", EntityID: "e", Renewable: true, Policies: []string{"default"}}}
	err := edgextoken.Write(filepath.Join(dir, "secrets-token.json"), f)
	require.ErrorContains(t, err, "is writable by group or others")
}

func TestReadNeverQuotesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets-token.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"auth":{"client_token":"hvs.secret"`), 0o600))
	_, err := edgextoken.Read(path)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hvs.secret")
	require.NoError(t, os.WriteFile(path, []byte(`{"auth":{"client_token":"hvs.secret","renewable":true,"policies":["default"]}}`), 0o600))
	_, err = edgextoken.Read(path)
	require.ErrorContains(t, err, "entity_id")
}

func TestRunRenewsUntilCancelled(t *testing.T) {
	fv, k := setup(t)
	var logs bytes.Buffer
	k.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	k.Interval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	require.Eventually(t, func() bool { _, err := os.Stat(k.Path); return err == nil }, 5*time.Second, 10*time.Millisecond)
	fv.set(func(f *fakeVault) { f.ttl = 10 })
	require.Eventually(t, func() bool {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		return fv.renewals > 0
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), "new Vault token written")
	assert.NotContains(t, logs.String(), "hvs.")
}

func TestRunFailsFastOnBadCredentials(t *testing.T) {
	_, k := setup(t)
	k.Credentials = filepath.Join(t.TempDir(), "missing.json")
	err := k.Run(context.Background())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "missing.json"), err)
}
