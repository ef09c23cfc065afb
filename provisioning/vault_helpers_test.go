// Helpers of the Vault integration tests: a Vault dev server of its own
// for each test, checks of plans, and checks of what a provisioned
// service can do with its credentials file.

package provisioning

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
)

// testVault is a Vault dev server started for one test.
type testVault struct {
	// Addr is the server's URL, e.g. http://127.0.0.1:18200.
	Addr string
	// Token is the random root token.
	Token string
}

// testVaultBinary returns the Vault binary to run: $ZTEDGE_VAULT_BIN, or
// the pinned build in the user cache folder.
func testVaultBinary(t *testing.T) string {
	if p := os.Getenv("ZTEDGE_VAULT_BIN"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err, "locating the Vault binary (set ZTEDGE_VAULT_BIN)")
	return filepath.Join(cache, "ztedge", "tools", "vault-v1.21.0", "vault")
}

// freeLoopbackPortPair returns a loopback port p such that p and p+1 are
// both free: a Vault dev server also listens on p+1 (its cluster port).
func freeLoopbackPortPair(t *testing.T) int {
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err, "finding a free port")
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	require.FailNow(t, "found no free loopback port p with p+1 also free")
	return 0
}

// startTestVault starts "vault server -dev" on a free loopback port with a
// random root token, waits until it answers, and stops it when the test
// ends. It fails the test (never skips) when Vault cannot start.
func startTestVault(t *testing.T) *testVault {
	t.Helper()
	bin := testVaultBinary(t)
	_, err := os.Stat(bin)
	require.NoError(t, err, "vault binary %s (build github.com/hashicorp/vault v1.21.0 there, see /work/shared/NOTES.md, or set ZTEDGE_VAULT_BIN)", bin)
	home := t.TempDir()
	tok := make([]byte, 16)
	_, err = rand.Read(tok)
	require.NoError(t, err)
	token := "root-" + hex.EncodeToString(tok)
	port := freeLoopbackPortPair(t)
	addr := fmt.Sprintf("http://127.0.0.1:%d", port)

	logPath := filepath.Join(home, "vault.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "server", "-dev",
		fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port),
		"-dev-no-store-token")
	// The token goes through the environment, not the command line.
	env := []string{"HOME=" + home, "VAULT_DEV_ROOT_TOKEN_ID=" + token}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err = cmd.Start(); err != nil {
		logFile.Close()
	}
	require.NoError(t, err, "starting %s", bin)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()

	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		s := strings.ReplaceAll(string(b), token, "<root token>")
		if len(s) > 4000 {
			s = s[len(s)-4000:]
		}
		return s
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)

	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			stopped = true
			require.FailNow(t, "vault dev server exited before it was ready", "%v\n%s", err, logTail())
		default:
		}
		resp, err := hc.Get(addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			require.FailNow(t, "vault dev server not ready after 60s", "at %s\n%s", addr, logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &testVault{Addr: addr, Token: token}
}

// rootClient is a Vault client with the root token, for checks and for
// making objects by hand.
func (tv *testVault) rootClient(t *testing.T) *vaultapi.Client {
	cfg := vaultapi.DefaultConfig()
	cfg.Address = tv.Addr
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	c.SetToken(tv.Token)
	return c
}

func applyChanges(t *testing.T, ctx context.Context, changes []Change) {
	t.Helper()
	require.NoError(t, (&Plan{Changes: changes}).execute(ctx, nil), "apply")
}

func planStrings(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf("%s %s %s", c.Op, c.Kind, c.Name))
	}
	return out
}

func mustPlan(t *testing.T, ctx context.Context, v *vaultSide) []Change {
	t.Helper()
	changes, err := v.plan(ctx)
	require.NoError(t, err, "plan")
	return changes
}

func expectNoChanges(t *testing.T, ctx context.Context, v *vaultSide, when string) {
	t.Helper()
	changes := mustPlan(t, ctx, v)
	var b strings.Builder
	(&Plan{Changes: changes}).WriteTo(&b)
	require.Empty(t, planStrings(changes), "%s: plan is not empty:\n%s", when, b.String())
}

// expectPlan checks the plan's changes as "op kind name" lines, in order.
func expectPlan(t *testing.T, changes []Change, want []string) {
	t.Helper()
	require.Equal(t, want, planStrings(changes), "plan")
}

func createsFor(s string) []string {
	return []string{
		"create vault entity " + s,
		"create vault policy ztedge-" + s,
		"create vault approle role " + s,
		"create vault entity alias " + s,
		"create vault oidc role " + s,
		"create vault credentials " + s,
	}
}

func deletesFor(s string) []string {
	return []string{
		"delete vault credentials " + s,
		"delete vault oidc role " + s,
		"delete vault entity alias " + s,
		"delete vault approle role " + s,
		"delete vault policy ztedge-" + s,
		"delete vault entity " + s,
	}
}

// loginAsService logs in with the service's credentials file, as the
// service would, and returns the client and the login's auth data.
func loginAsService(t *testing.T, ctx context.Context, out, s string) (*vaultapi.Client, *vaultapi.SecretAuth) {
	t.Helper()
	creds, err := credentials.Read(credentials.Path(out, s))
	require.NoError(t, err)
	cfg := vaultapi.DefaultConfig()
	cfg.Address = creds.VaultAddress
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	c.ClearToken()
	sec, err := c.Logical().WriteWithContext(ctx, "auth/"+creds.AuthMount+"/login", map[string]any{
		"role_id":   creds.RoleID,
		"secret_id": creds.SecretID,
	})
	require.NoError(t, err, "approle login of %s", s)
	require.NotNil(t, sec, "approle login of %s returned nothing", s)
	require.NotNil(t, sec.Auth, "approle login of %s returned no auth", s)
	require.NotEmpty(t, sec.Auth.ClientToken, "approle login of %s returned no token", s)
	c.SetToken(sec.Auth.ClientToken)
	return c, sec.Auth
}

// jwtParts decodes a compact JWS into header, claims and signature.
func jwtParts(t *testing.T, jwt string) (header, claims map[string]any, signingInput string, sig []byte) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Equal(t, 3, len(parts), "identity token parts")
	dec := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err, "identity token segment")
		if v != nil {
			require.NoError(t, json.Unmarshal(b, v), "identity token segment")
		}
	}
	dec(parts[0], &header)
	dec(parts[1], &claims)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	return header, claims, parts[0] + "." + parts[1], sig
}

// verifyES384 checks the token's signature against the JWKS at jwksURL.
func verifyES384(t *testing.T, jwksURL string, header map[string]any, signingInput string, sig []byte) {
	t.Helper()
	require.Equal(t, "ES384", header["alg"], "token alg")
	resp, err := http.Get(jwksURL)
	require.NoError(t, err, "fetching JWKS")
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid, Kty, Crv, X, Y string
		} `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set), "decoding JWKS")
	for _, k := range set.Keys {
		if k.Kid != header["kid"] {
			continue
		}
		require.Equal(t, "EC", k.Kty, "JWKS key %s", k.Kid)
		require.Equal(t, "P-384", k.Crv, "JWKS key %s", k.Kid)
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), slices.Concat([]byte{4}, x, y))
		require.NoError(t, err, "JWKS key %s", k.Kid)
		require.Equal(t, 96, len(sig), "ES384 signature length")
		h := sha512.Sum384([]byte(signingInput))
		r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
		require.True(t, ecdsa.Verify(pub, h[:], r, s), "identity token signature does not verify with the JWKS key")
		return
	}
	require.FailNow(t, "the token's key is not in the JWKS", "JWKS at %s has no key %v", jwksURL, header["kid"])
}

// checkServiceIdentity logs in as s and fetches and checks its identity token.
func checkServiceIdentity(t *testing.T, ctx context.Context, root *vaultapi.Client, top *Topology, s, issuer, jwksURL string) {
	t.Helper()
	c, auth := loginAsService(t, ctx, top.Output, s)
	assert.Contains(t, auth.TokenPolicies, vaultPolicyName(s), "%s's token policies", s)
	assert.True(t, auth.Renewable, "%s's token is not renewable", s)
	assert.Equal(t, int(time.Duration(top.Vault.TokenPeriod)/time.Second), auth.LeaseDuration, "%s's token lease in seconds: want a periodic token of %s", s, time.Duration(top.Vault.TokenPeriod))
	ent, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/"+s)
	require.NoError(t, err, "reading entity %s", s)
	require.NotNil(t, ent, "entity %s", s)
	assert.Equal(t, ent.Data["id"], auth.EntityID, "%s logged in as another entity than the managed one", s)

	sec, err := c.Logical().ReadWithContext(ctx, "identity/oidc/token/"+s)
	require.NoError(t, err, "%s fetching its identity token", s)
	require.NotNil(t, sec, "%s fetching its identity token", s)
	jwt, _ := sec.Data["token"].(string)
	header, claims, input, sig := jwtParts(t, jwt)
	assert.Equal(t, top.JWT.Audience, claims["aud"], "token aud")
	assert.Equal(t, s, claims["name"], "token name")
	assert.Equal(t, issuer, claims["iss"], "token iss: want the discovered issuer")
	assert.Equal(t, ent.Data["id"], claims["sub"], "token sub: want the entity id")
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	assert.Equal(t, time.Duration(top.JWT.TTL), time.Duration(exp-iat)*time.Second, "token lifetime")
	verifyES384(t, jwksURL, header, input, sig)

	intro, err := c.Logical().WriteWithContext(ctx, "identity/oidc/introspect", map[string]any{"token": jwt})
	assert.NoError(t, err, "%s introspecting its own token", s)
	if assert.NotNil(t, intro, "%s introspecting its own token", s) {
		assert.Equal(t, true, intro.Data["active"], "%s introspecting its own token: active", s)
	}

	// The policy grants this service's token only.
	for _, other := range top.Services {
		if other.Name == s {
			continue
		}
		_, err := c.Logical().ReadWithContext(ctx, "identity/oidc/token/"+other.Name)
		assert.Error(t, err, "%s could fetch the identity token of %s", s, other.Name)
	}
}
