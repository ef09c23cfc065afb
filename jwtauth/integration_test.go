package jwtauth_test

// Integration tests and benchmarks against a real Vault dev server (the
// shared Vault and Ziti test stack) provisioned with examples/topology.yaml.
// They never skip.

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/provisioning"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	os.Exit(code)
}

const topologyFile = "../examples/topology.yaml"

// vaultEnv is a provisioned topology on the shared stack.
type vaultEnv struct {
	st      *stack.State
	top     *provisioning.Topology
	issuer  string
	keysURL string
}

// provision provisions the example topology, edited by edit, and
// discovers Vault's issuer. Each call writes fresh credentials (and
// invalidates the secret IDs of earlier calls).
func provision(t testing.TB, edit func(*provisioning.Topology)) *vaultEnv {
	t.Helper()
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, edit)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	issuer, keysURL, err := jwtauth.Discover(ctx, st.VaultAddress, nil)
	require.NoError(t, err)
	return &vaultEnv{st: st, top: top, issuer: issuer, keysURL: keysURL}
}

// tokenSource is the Vault token source of service svc.
func (e *vaultEnv) tokenSource(t testing.TB, svc string) *idtoken.Source {
	t.Helper()
	src, err := idtoken.New(credentials.Path(e.top.Output, svc), idtoken.Options{Logger: quietLogger()})
	require.NoError(t, err)
	return src
}

// jwtOf fetches a JWT of service svc from Vault.
func (e *vaultEnv) jwtOf(t testing.TB, svc string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := e.tokenSource(t, svc).Token(ctx)
	require.NoError(t, err)
	return tok
}

// introspector logs in to Vault as service svc with its AppRole
// credentials, as a service would, and returns a VaultIntrospector whose
// Relogin logs in again.
func (e *vaultEnv) introspector(t testing.TB, svc string) (*jwtauth.VaultIntrospector, *vaultapi.Client) {
	t.Helper()
	creds, err := credentials.Read(credentials.Path(e.top.Output, svc))
	require.NoError(t, err)
	cfg := vaultapi.DefaultConfig()
	cfg.Address = creds.VaultAddress
	cfg.MaxRetries = 0
	client, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	client.ClearToken()
	login := func(ctx context.Context, c *vaultapi.Client) error {
		sec, err := c.Logical().WriteWithContext(ctx, "auth/"+creds.AuthMount+"/login", map[string]any{
			"role_id": creds.RoleID, "secret_id": creds.SecretID,
		})
		if err != nil {
			return err
		}
		if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
			return errors.New("vault returned no client token")
		}
		c.SetToken(sec.Auth.ClientToken)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, login(ctx, client))
	intro := jwtauth.NewVaultIntrospector(client)
	intro.ClientID = e.top.JWT.Audience
	intro.Relogin = login
	intro.Logger = quietLogger()
	return intro, client
}

// verifier returns a verifier for this Vault in the given mode.
func (e *vaultEnv) verifier(t testing.TB, mode jwtauth.Mode, intro jwtauth.Introspector, cacheSize int) *jwtauth.Verifier {
	t.Helper()
	opts := jwtauth.Options{
		Issuer: e.issuer, Audiences: []string{"edgex"}, KeysURL: e.keysURL,
		Mode: mode, Introspector: intro, CacheSize: cacheSize, Logger: quietLogger(),
	}
	if mode == jwtauth.Introspect {
		opts.KeysURL = ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := jwtauth.NewVerifier(ctx, opts)
	require.NoError(t, err)
	return v
}

func TestVaultIssuedTokens(t *testing.T) {
	env := provision(t, nil)
	ctx := context.Background()
	require.Equal(t, env.st.VaultAddress+"/v1/identity/oidc", env.issuer, "discovered issuer")
	require.Equal(t, env.issuer+"/.well-known/keys", env.keysURL, "discovered keys URL")
	coreData := env.jwtOf(t, "core-data")
	device := env.jwtOf(t, "device-virtual")
	intro, client := env.introspector(t, "core-data")

	t.Run("local", func(t *testing.T) {
		v := env.verifier(t, jwtauth.Local, nil, 0)
		c, err := v.Verify(ctx, coreData)
		require.NoError(t, err, "Vault's JWT refused")
		assert.Equal(t, "core-data", c.Name)
		assert.Equal(t, env.issuer, c.Issuer)
		assert.Equal(t, []string{"edgex"}, c.Audience)
		assert.NotEmpty(t, c.Subject)
		assert.Equal(t, "root", c.Extra["namespace"])
		assert.Equal(t, time.Hour, c.ExpiresAt.Sub(c.IssuedAt), "lifetime")
		c, err = v.Verify(ctx, device)
		require.NoError(t, err, "device-virtual's JWT")
		require.Equal(t, "device-virtual", c.Name, "device-virtual's JWT")
	})
	t.Run("introspection", func(t *testing.T) {
		for _, mode := range []jwtauth.Mode{jwtauth.Introspect, jwtauth.Both} {
			v := env.verifier(t, mode, intro, -1)
			for _, tok := range []string{coreData, device} {
				_, err := v.Verify(ctx, tok)
				require.NoError(t, err, "%s mode: Vault's JWT refused", mode)
			}
		}
	})
	t.Run("relogin", func(t *testing.T) {
		client.SetToken("hvs.not-a-valid-token")
		active, err := intro.Introspect(ctx, coreData)
		require.NoError(t, err, "after a refused client token")
		require.True(t, active, "after a refused client token")
	})
	t.Run("forged", func(t *testing.T) {
		// Vault's kid and claims, signed with another key.
		parts := strings.Split(coreData, ".")
		forger := newECKey(t, "")
		forged, err := jwtSign(forger, parts[0]+"."+parts[1])
		require.NoError(t, err)
		tok := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(forged)
		v := env.verifier(t, jwtauth.Local, nil, 0)
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, jwtauth.ErrSignature, "forged token")
		active, err := intro.Introspect(ctx, tok)
		require.NoError(t, err, "Vault on the forged token")
		require.False(t, active, "Vault on the forged token")
		v = env.verifier(t, jwtauth.Introspect, intro, 0)
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, jwtauth.ErrInactive, "introspect mode, forged token")
	})
	t.Run("vault unreachable", func(t *testing.T) {
		cfg := vaultapi.DefaultConfig()
		cfg.Address = "http://127.0.0.1:1"
		cfg.MaxRetries = 0
		down, err := vaultapi.NewClient(cfg)
		require.NoError(t, err)
		down.SetToken("x")
		logs := &logBuffer{}
		v, err := jwtauth.NewVerifier(ctx, jwtauth.Options{Issuer: env.issuer, Audiences: []string{"edgex"}, KeysURL: env.keysURL,
			Mode: jwtauth.Both, Introspector: jwtauth.NewVaultIntrospector(down), Logger: logs.logger()})
		require.NoError(t, err)
		_, err = v.Verify(ctx, coreData)
		require.ErrorIs(t, err, jwtauth.ErrIntrospection, "Vault down")
		mustNotContainToken(t, err.Error()+logs.String(), coreData)
		require.Contains(t, logs.String(), "token introspection failed", "not logged")
	})
}

// TestVaultTokenOfAnotherAudience: a genuine Vault JWT whose aud is not
// ours is refused, locally and by Vault's introspection with client_id.
func TestVaultTokenOfAnotherAudience(t *testing.T) {
	ctx := context.Background()
	env := provision(t, func(top *provisioning.Topology) { top.JWT.Audience = "not-edgex" })
	tok := env.jwtOf(t, "core-data")
	intro, _ := env.introspector(t, "core-data")
	intro.ClientID = "edgex"
	for _, mode := range []jwtauth.Mode{jwtauth.Local, jwtauth.Introspect, jwtauth.Both} {
		v := env.verifier(t, mode, intro, 0)
		_, err := v.Verify(ctx, tok)
		require.ErrorIs(t, err, jwtauth.ErrAudience, "%s mode: token for audience not-edgex", mode)
	}
	active, err := intro.Introspect(ctx, tok)
	require.NoError(t, err, "Vault with client_id edgex")
	require.False(t, active, "Vault with client_id edgex")
}

// TestVaultTokenExpires: a Vault JWT living 10 s is accepted (and cached),
// then refused once expired, from the cache as from a fresh check.
func TestVaultTokenExpires(t *testing.T) {
	ctx := context.Background()
	env := provision(t, func(top *provisioning.Topology) { top.JWT.TTL = provisioning.Duration(10 * time.Second) })
	tok := env.jwtOf(t, "core-data")
	intro, _ := env.introspector(t, "core-data")
	local := env.verifier(t, jwtauth.Local, nil, 0)
	both := env.verifier(t, jwtauth.Both, intro, 0)
	introspect := env.verifier(t, jwtauth.Introspect, intro, -1)
	c, err := local.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, c.ExpiresAt.Sub(c.IssuedAt), "JWT lifetime")
	for _, v := range []*jwtauth.Verifier{both, introspect} {
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	}
	wait := time.Until(c.ExpiresAt.Add(jwtauth.DefaultLeeway + time.Second))
	t.Logf("waiting %s for the JWT to expire", wait.Round(time.Second))
	time.Sleep(wait)
	for name, v := range map[string]*jwtauth.Verifier{"local (cached)": local, "both (cached)": both, "introspect": introspect} {
		_, err := v.Verify(ctx, tok)
		require.ErrorIs(t, err, jwtauth.ErrExpired, "%s: expired JWT", name)
	}
	// Vault's own introspection allows a minute of clock skew, which is why
	// the verifier checks exp itself in every mode.
	active, err := intro.Introspect(ctx, tok)
	t.Logf("Vault's introspection %s after exp: active=%v err=%v", time.Since(c.ExpiresAt).Round(time.Second), active, err)
}

// TestMiddlewareEndToEnd: Middleware and BearerTransport over HTTP with
// Vault-issued JWTs.
func TestMiddlewareEndToEnd(t *testing.T) {
	env := provision(t, nil)
	intro, _ := env.introspector(t, "core-data")
	for _, mode := range []jwtauth.Mode{jwtauth.Local, jwtauth.Both} {
		t.Run(mode.String(), func(t *testing.T) {
			v := env.verifier(t, mode, intro, 0)
			var mu sync.Mutex
			var callers []string
			mux := http.NewServeMux()
			mux.HandleFunc(pingPath, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "pong") })
			mux.HandleFunc("/api/v3/reading", func(w http.ResponseWriter, r *http.Request) {
				caller := caller.Name(r.Context())
				c, _ := jwtauth.ClaimsFrom(r.Context())
				mu.Lock()
				callers = append(callers, caller)
				mu.Unlock()
				fmt.Fprintf(w, "hello %s (%s)", caller, c.Subject)
			})
			mux.Handle("/api/v3/admin", caller.Allow("core-command")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			srv := httptest.NewServer(jwtauth.Middleware(v, jwtauth.MiddlewareOptions{Exempt: []string{pingPath}})(mux))
			defer srv.Close()

			plain := srv.Client()
			resp, err := plain.Get(srv.URL + "/api/v3/reading")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 401, resp.StatusCode, "no token")
			require.Equal(t, `Bearer realm="ztedge"`, resp.Header.Get("WWW-Authenticate"), "no token")
			resp, err = plain.Get(srv.URL + pingPath)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "ping without token")

			src := env.tokenSource(t, "core-data")
			client := &http.Client{Transport: jwtauth.BearerTransport(srv.Client().Transport, src)}
			for range 5 {
				resp, err = client.Get(srv.URL + "/api/v3/reading")
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode, "own JWT: %q", body)
				require.True(t, strings.HasPrefix(string(body), "hello core-data ("), "own JWT: %q", body)
			}
			require.Equal(t, 1, src.Fetches(), "JWTs the token source fetched for 5 requests")
			mu.Lock()
			seen := slices.Clone(callers)
			mu.Unlock()
			require.Len(t, seen, 5, "handler saw callers %v", seen)
			require.Equal(t, "core-data", seen[0], "handler saw callers %v", seen)
			resp, err = client.Get(srv.URL + "/api/v3/admin")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 403, resp.StatusCode, "core-data on a core-command route")

			// A tampered token is refused with an RFC 6750 error.
			tok, err := src.Token(context.Background())
			require.NoError(t, err)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v3/reading", nil)
			req.Header.Set("Authorization", "Bearer "+tok[:len(tok)-4]+"AAAA")
			resp, err = client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			want := `Bearer realm="ztedge", error="invalid_token", error_description="invalid signature"`
			require.Equal(t, 401, resp.StatusCode, "tampered token")
			require.Equal(t, want, resp.Header.Get("WWW-Authenticate"), "tampered token")
		})
	}
}

// BenchmarkVerify compares, in one run, a cached verification, a local
// signature check (cache off) and a Vault introspection (cache off), all
// with a real Vault JWT:
//
//	go test -run '^$' -bench BenchmarkVerify ./jwtauth
func BenchmarkVerify(b *testing.B) {
	env := provision(b, nil)
	tok := env.jwtOf(b, "core-data")
	intro, _ := env.introspector(b, "core-data")
	ctx := context.Background()
	run := func(v *jwtauth.Verifier) func(b *testing.B) {
		return func(b *testing.B) {
			_, err := v.Verify(ctx, tok)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				// Not require: its b.Helper call would be measured too.
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("cached", run(env.verifier(b, jwtauth.Local, nil, 0)))
	b.Run("local-signature", run(env.verifier(b, jwtauth.Local, nil, -1)))
	b.Run("vault-introspection", run(env.verifier(b, jwtauth.Introspect, intro, -1)))
}

// TestVaultSignsHighSAsOftenAsLowS: Vault does not normalise ECDSA
// signatures, so refusing high-S signatures would refuse about half of its
// genuine tokens; every one of them verifies.
func TestVaultSignsHighSAsOftenAsLowS(t *testing.T) {
	env := provision(t, nil)
	v := env.verifier(t, jwtauth.Local, nil, -1)
	creds, err := credentials.Read(credentials.Path(env.top.Output, "core-data"))
	require.NoError(t, err)
	c, err := vault.NewClient(vault.Config{Address: creds.VaultAddress})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	login, err := vault.AppRoleLogin(ctx, c, creds.AuthMount, creds.RoleID, creds.SecretID)
	require.NoError(t, err)
	c.SetToken(login.Token)
	n := elliptic.P384().Params().N
	half := new(big.Int).Rsh(n, 1)
	const tokens = 40
	high := 0
	for range tokens {
		data, err := vault.Read(ctx, c, "identity/oidc/token/"+creds.OIDCRole)
		require.NoError(t, err)
		tok, _ := data["token"].(string)
		sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndex(tok, ".")+1:])
		require.NoError(t, err)
		require.Len(t, sig, 96, "ES384")
		if new(big.Int).SetBytes(sig[48:]).Cmp(half) > 0 {
			high++
		}
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err)
	}
	t.Logf("%d of %d Vault-issued ES384 tokens have a high S", high, tokens)
	assert.Positive(t, high, "Vault issues high-S signatures (the chance of none in 40 is 2^-40)")
	assert.Less(t, high, tokens, "and low-S ones")
}
