package gateway

// Integration tests of the gateway with a real NGINX, a real proxy-auth
// binary and a real Vault (the shared test stack, provisioned with the
// example topology). They never skip.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/jwtauth"
	"github.com/ztedge/ztedge/provisioning"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	os.Exit(code)
}

const topologyFile = "../examples/topology.yaml"

// vaultJWT logs in as user u with password and returns the user's JWT.
func vaultJWT(t testing.TB, vaultAddr string, u *provisioning.User, password string) string {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = vaultAddr
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	c.ClearToken()
	ctx := t.Context()
	sec, err := c.Logical().WriteWithContext(ctx, u.LoginPath, map[string]any{"password": password})
	require.NoError(t, err, "userpass login of %s", u.Name)
	c.SetToken(sec.Auth.ClientToken)
	sec, err = c.Logical().ReadWithContext(ctx, u.TokenPath)
	require.NoError(t, err, "reading the JWT of %s", u.Name)
	jwt, _ := sec.Data["token"].(string)
	require.NotEmpty(t, jwt, "no JWT for %s", u.Name)
	return jwt
}

// claimsOf decodes a JWT's payload without verifying it (test helper).
func claimsOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3, "not a JWT")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// signES384 makes a compact ES384 JWS of claims with header kid, signed
// with key: a token Vault never issued.
func signES384(t testing.TB, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "ES384", "typ": "JWT", "kid": kid}) + "." + enc(claims)
	sum := sha512.Sum384([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	require.NoError(t, err)
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// vaultKIDs returns the key IDs Vault publishes.
func vaultKIDs(t testing.TB, keysURL string) []string {
	t.Helper()
	resp, err := http.Get(keysURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&jwks))
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.KID)
	}
	require.NotEmpty(t, kids, "vault publishes no keys")
	return kids
}

// upstreamService is the test "core-data": it requires a valid JWT of its
// own (jwtauth.Middleware, ping exempt) and echoes what it received.
func upstreamService(t testing.TB, v *jwtauth.Verifier) *httptest.Server {
	t.Helper()
	echo := echoHandler()
	h := jwtauth.Middleware(v, jwtauth.MiddlewareOptions{Exempt: []string{DefaultPingPath}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The JWT the service verified itself must name the same caller
		// as the gateway's header.
		if who, ok := caller.From(r.Context()); ok && who.Name != r.Header.Get(CallerHeader) {
			http.Error(w, fmt.Sprintf("caller mismatch: token %q, header %q", who.Name, r.Header.Get(CallerHeader)), http.StatusConflict)
			return
		}
		echo.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(h) // loopback only
	t.Cleanup(srv.Close)
	return srv
}

func TestIntegrationGateway(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, nil)
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	token, err := st.VaultToken()
	require.NoError(t, err)
	vc, err := provisioning.NewVaultClient(ctx, st.VaultAddress, token, "the stack's root token", "")
	require.NoError(t, err)
	users, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: top.Vault.Key, Audience: top.JWT.Audience})
	require.NoError(t, err)
	addUser := func(t testing.TB, u *provisioning.Users, name string) string {
		t.Helper()
		user, err := u.Add(ctx, name)
		require.NoError(t, err, "adding user %s", name)
		t.Cleanup(func() { _ = u.Remove(context.Background(), name) })
		return vaultJWT(t, st.VaultAddress, user, user.Password)
	}

	// The topology's key only signs for its audience. Vault publishes in
	// one JWKS every OIDC key a role uses, so a token signed by a second
	// key for another audience has a good signature: only aud can refuse
	// it. Key and role are made before the verifiers fetch the keys.
	const otherKey = "ztedge-test-other-audience"
	_, err = vc.Logical().WriteWithContext(ctx, "identity/oidc/key/"+otherKey, map[string]any{
		"algorithm": "ES384", "allowed_client_ids": []string{"*"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = vc.Logical().DeleteWithContext(context.Background(), "identity/oidc/key/"+otherKey) })
	otherAudience, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: otherKey, Audience: "not-" + top.JWT.Audience})
	require.NoError(t, err)
	otherAudienceJWT := addUser(t, otherAudience, "frank-other")

	issuer, keysURL, err := jwtauth.Discover(ctx, st.VaultAddress, nil)
	require.NoError(t, err)
	verifier, err := jwtauth.NewVerifier(ctx, jwtauth.Options{Issuer: issuer, Audiences: []string{top.JWT.Audience}, KeysURL: keysURL, Logger: logger})
	require.NoError(t, err)
	upstream := upstreamService(t, verifier)

	bin := buildProxyAuth(t)
	authURL := startProxyAuth(t, bin, "-vault", st.VaultAddress, "-audience", top.JWT.Audience)
	gw := startGateway(t, Config{
		Listen:   freePort(t),
		StateDir: filepath.Join(t.TempDir(), "gateway"),
		AuthURL:  authURL,
		Services: map[string]string{"core-data": upstream.URL},
	})
	client := gatewayClient(t, gw.Config.CertFile)
	url := "https://" + gw.Addr + "/core-data/api/v3/reading/all"

	expect401 := func(t *testing.T, token, reason string) {
		t.Helper()
		r := get(t, client, "GET", url, token)
		require.Equal(t, 401, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), reason, "WWW-Authenticate")
	}

	t.Run("no token is 401", func(t *testing.T) {
		expect401(t, "", `Bearer realm="ztedge"`)
	})

	t.Run("a human user's JWT reaches core-data with the caller name", func(t *testing.T) {
		jwt := addUser(t, users, "alice")
		r := get(t, client, "GET", url+"?limit=3", jwt)
		require.Equal(t, 200, r.status, "%+v", r.body)
		require.Equal(t, "alice", r.body.Caller)
		require.Equal(t, 1, r.body.Callers, "caller headers")
		require.Equal(t, "/api/v3/reading/all", r.body.Path)
		require.True(t, r.body.Authorization, "the token did not reach core-data")
		// A client-sent caller header cannot override the token's name.
		r = get(t, client, "GET", url, jwt, CallerHeader, "core-command")
		assert.Equal(t, 200, r.status, "with a forged caller header: %+v", r.body)
		assert.Equal(t, "alice", r.body.Caller, "with a forged caller header")
		assert.Equal(t, 1, r.body.Callers, "with a forged caller header: want alice's only")
	})

	t.Run("a service's JWT from its provisioned credentials works too", func(t *testing.T) {
		jwt := stacktest.ServiceJWT(t, top.Output, "device-virtual")
		r := get(t, client, "POST", "https://"+gw.Addr+"/core-data/api/v3/event", jwt)
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "device-virtual", r.body.Caller)
		assert.Equal(t, "POST", r.body.Method)
	})

	t.Run("expired JWT is 401", func(t *testing.T) {
		short, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: top.Vault.Key, Audience: top.JWT.Audience, TTL: 2 * time.Second})
		require.NoError(t, err)
		jwt := addUser(t, short, "eve-short")
		exp, _ := claimsOf(t, jwt)["exp"].(float64)
		// Past exp plus the verifiers' leeway.
		wait := time.Until(time.Unix(int64(exp), 0).Add(jwtauth.DefaultLeeway + time.Second))
		t.Logf("waiting %s for the JWT to expire", wait.Round(time.Second))
		time.Sleep(wait)
		expect401(t, jwt, "token expired")
	})

	t.Run("forged JWT is 401", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		claims := map[string]any{"iss": issuer, "aud": top.JWT.Audience, "name": "core-command", "sub": "x",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "namespace": "root"}
		// A valid user's token, for its key ID.
		jwt := addUser(t, users, "mallory")
		parts := strings.Split(jwt, ".")
		var header struct {
			KID string `json:"kid"`
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
		require.NoError(t, json.Unmarshal(raw, &header), "the user's JWT header")
		require.Contains(t, vaultKIDs(t, keysURL), header.KID, "the user's JWT names a key Vault does not publish")
		// Vault's key ID, but our signature.
		expect401(t, signES384(t, key, header.KID, claims), "invalid signature")
		// The user's token with its payload swapped for another name.
		c := claimsOf(t, jwt)
		c["name"] = "core-command"
		payload, _ := json.Marshal(c)
		expect401(t, parts[0]+"."+base64.RawURLEncoding.EncodeToString(payload)+"."+parts[2], "invalid signature")
		// And no signature at all.
		expect401(t, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))+"."+base64.RawURLEncoding.EncodeToString(payload)+".", "invalid_token")
	})

	t.Run("unknown key is 401", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		claims := map[string]any{"iss": issuer, "aud": top.JWT.Audience, "name": "alice", "sub": "x",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		expect401(t, signES384(t, key, "not-a-vault-key-"+fmt.Sprint(time.Now().UnixNano()), claims), "unknown key")
	})

	t.Run("wrong audience is 401", func(t *testing.T) {
		jwt := otherAudienceJWT
		require.Equal(t, "not-"+top.JWT.Audience, claimsOf(t, jwt)["aud"], "aud")
		expect401(t, jwt, "wrong audience")
	})

	t.Run("core-data refuses requests around the gateway without a token", func(t *testing.T) {
		resp, err := http.Get(upstream.URL + "/api/v3/reading/all")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode, "direct request without token")
		// A forged caller header does not help either.
		req, _ := http.NewRequest("GET", upstream.URL+"/api/v3/reading/all", nil)
		req.Header.Set(CallerHeader, "alice")
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode, "direct request with only a caller header")
	})

	t.Run("ping through the gateway needs no token", func(t *testing.T) {
		r := get(t, client, "GET", "https://"+gw.Addr+"/core-data/api/v3/ping", "")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "/api/v3/ping", r.body.Path)
	})

	t.Run("TLS 1.2 clients are refused", func(t *testing.T) {
		c12 := gatewayClient(t, gw.Config.CertFile)
		c12.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
		resp, err := c12.Get("https://" + gw.Addr + "/core-data/api/v3/ping")
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "a TLS 1.2 client got an answer")
		resp, err = client.Get("https://" + gw.Addr + "/core-data/api/v3/ping")
		require.NoError(t, err)
		resp.Body.Close()
		if assert.NotNil(t, resp.TLS, "the trusted client did not use TLS") {
			assert.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version, "the trusted client did not use TLS 1.3")
		}
	})

	t.Run("introspection refuses a removed user's JWT", func(t *testing.T) {
		user, err := users.Add(ctx, "dave")
		require.NoError(t, err)
		jwt := vaultJWT(t, st.VaultAddress, user, user.Password)
		require.NoError(t, users.Remove(ctx, "dave"))
		// Local verification cannot know: the signature is still good
		// until exp.
		r := get(t, client, "GET", url, jwt)
		assert.Equal(t, 200, r.status, "local mode: want 200 for a signed, unexpired JWT: %+v", r.body)
		assert.Equal(t, "dave", r.body.Caller, "local mode")
		// With -introspect (logged in with core-data's AppRole, whose
		// policy allows introspection) Vault says the entity is gone.
		introAuth := startProxyAuth(t, bin, "-vault", st.VaultAddress, "-audience", top.JWT.Audience,
			"-introspect", "-vault-credentials", credentials.Path(top.Output, "core-data"))
		gw2 := startGateway(t, Config{
			Listen:   freePort(t),
			StateDir: filepath.Join(t.TempDir(), "gateway-introspect"),
			AuthURL:  introAuth,
			Services: map[string]string{"core-data": upstream.URL},
		})
		c2 := gatewayClient(t, gw2.Config.CertFile)
		url2 := "https://" + gw2.Addr + "/core-data/api/v3/reading/all"
		r = get(t, c2, "GET", url2, jwt)
		assert.Equal(t, 401, r.status, "introspect mode, removed user")
		assert.Contains(t, r.header.Get("WWW-Authenticate"), "not active", "introspect mode, removed user")
		alice := addUser(t, users, "alice2")
		r = get(t, c2, "GET", url2, alice)
		assert.Equal(t, 200, r.status, "introspect mode, valid user: %+v", r.body)
		assert.Equal(t, "alice2", r.body.Caller, "introspect mode, valid user")
	})
}

func TestIntegrationProxyAuthRefusesToStart(t *testing.T) {
	st := stacktest.Shared(t)
	bin := buildProxyAuth(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no vault", []string{"-listen", freePort(t)}, "no Vault address"},
		{"unreachable vault", []string{"-listen", freePort(t), "-vault", "http://" + freePort(t)}, "cannot reach Vault"},
		{"no audience", []string{"-listen", freePort(t), "-vault", st.VaultAddress, "-audience", " , "}, "no audience"},
		{"introspect without credentials", []string{"-listen", freePort(t), "-vault", st.VaultAddress, "-introspect"}, "-introspect needs Vault credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			require.Equal(t, 1, cmd.ProcessState.ExitCode(), "exit code (err %v):\n%s", err, out)
			assert.Contains(t, string(out), tc.want, "output")
		})
	}
}
