package idtoken

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeVault answers AppRole logins, token renewals and identity token
// reads, counting each.
type fakeVault struct {
	mu                      sync.Mutex
	logins, renews, fetches int
	now                     func() time.Time
	jwtTTL                  time.Duration
	tokenTTL                int // seconds
	revoked                 bool
	hang                    chan struct{} // when not nil, token reads wait for it to close
	down                    bool          // token reads fail with 503
}

func (f *fakeVault) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/auth/ztedge-approle/login":
			f.logins++
			f.revoked = false
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": "s.vault-token", "lease_duration": f.tokenTTL, "renewable": true}})
		case "/v1/auth/token/renew-self":
			f.renews++
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": "s.vault-token", "lease_duration": f.tokenTTL, "renewable": true}})
		case "/v1/identity/oidc/token/core-data":
			if hang := f.hang; hang != nil {
				f.mu.Unlock()
				<-hang
				f.mu.Lock()
			}
			if f.down {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"errors":["Vault is sealed"]}`))
				return
			}
			if f.revoked || r.Header.Get("X-Vault-Token") != "s.vault-token" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
				return
			}
			f.fetches++
			now := f.now()
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"name": "core-data", "iat": now.Unix(), "exp": now.Add(f.jwtTTL).Unix(),
			}).SignedString([]byte("test"))
			require.NoError(t, err)
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"token": tok}})
		default:
			http.NotFound(w, r)
		}
	})
}

func writeCreds(t *testing.T, vaultAddr string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials.json")
	b, _ := json.Marshal(map[string]string{
		"service": "core-data", "vaultAddress": vaultAddr, "authMount": "ztedge-approle",
		"roleId": "role", "secretId": "s3cr3t-value", "oidcRole": "core-data", "audience": "edgex",
	})
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func TestSourceCachesAndRenews(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }

	fv := &fakeVault{now: now, jwtTTL: 10 * time.Minute, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	src.now = now
	ctx := context.Background()

	first, err := src.Token(ctx)
	require.NoError(t, err)
	for range 100 {
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, first, tok)
	}
	assert.Equal(t, 1, fv.logins)
	assert.Equal(t, 1, fv.fetches, "Vault is not called per request")

	// A fifth of the lifetime before exp, a new JWT is fetched.
	advance(8*time.Minute + time.Second)
	second, err := src.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	assert.Equal(t, 2, fv.fetches)
	assert.Equal(t, 1, fv.logins)

	// Near the end of the Vault token's TTL it is renewed, not replaced.
	advance(50 * time.Minute)
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, fv.renews)
	assert.Equal(t, 1, fv.logins)

	// Vault forgot the token (say, it restarted): log in again once.
	fv.mu.Lock()
	fv.revoked = true
	fv.mu.Unlock()
	advance(9 * time.Minute)
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, fv.logins)
	assert.Equal(t, 4, src.Fetches())

	// Vault goes away while the current JWT is still valid: keep using it.
	current, err := src.Token(ctx)
	require.NoError(t, err)
	srv.Close()
	advance(8*time.Minute + time.Second) // time to renew, not yet expired
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, current, tok)
	advance(2 * time.Minute) // now it has expired
	_, err = src.Token(ctx)
	require.Error(t, err)
}

func TestSourceErrorsNeverCarrySecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":["invalid role or secret ID"]}`))
	}))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	_, err = src.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `logging in to vault`)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
}

func TestRenewMargin(t *testing.T) {
	assert.Equal(t, 6*time.Second, renewMargin(30*time.Second))
	assert.Equal(t, time.Second, renewMargin(2*time.Second))
	assert.Equal(t, 5*time.Minute, renewMargin(24*time.Hour))
}

// A JWT fetched once and then left unused (the API session it opened
// lives on) expires; the source is still ready while Vault can issue a
// new one, and not ready once it cannot.
func TestReadyRenewsAnExpiredUnusedJWT(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	fv := &fakeVault{now: now, jwtTTL: 30 * time.Second, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	src.now = now
	ctx := context.Background()
	require.NoError(t, src.Ready(ctx))
	assert.Equal(t, 1, fv.fetches)

	advance(time.Minute)
	assert.True(t, now().After(src.State().Expires), "the cached JWT expired unused")
	require.NoError(t, src.Ready(ctx), "Vault can issue another: ready")
	assert.Equal(t, 2, fv.fetches)
	require.NoError(t, src.Ready(ctx))
	assert.Equal(t, 2, fv.fetches, "no Vault call while the JWT is fresh")

	srv.Close()
	advance(time.Minute)
	err = src.Ready(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no valid JWT")
}
