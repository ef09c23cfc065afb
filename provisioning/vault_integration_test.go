package provisioning

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/vault"
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
	if err != nil {
		t.Fatalf("locating the Vault binary: %v (set ZTEDGE_VAULT_BIN)", err)
	}
	return filepath.Join(cache, "ztedge", "tools", "vault-v1.21.0", "vault")
}

// freeLoopbackPortPair returns a loopback port p such that p and p+1 are
// both free: a Vault dev server also listens on p+1 (its cluster port).
func freeLoopbackPortPair(t *testing.T) int {
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("found no free loopback port p with p+1 also free")
	return 0
}

// startTestVault starts "vault server -dev" on a free loopback port with a
// random root token, waits until it answers, and stops it when the test
// ends. It fails the test (never skips) when Vault cannot start.
func startTestVault(t *testing.T) *testVault {
	t.Helper()
	bin := testVaultBinary(t)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("vault binary %s: %v (build github.com/hashicorp/vault v1.21.0 there, see /work/shared/NOTES.md, or set ZTEDGE_VAULT_BIN)", bin, err)
	}
	home := t.TempDir()
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	token := "root-" + hex.EncodeToString(tok)
	port := freeLoopbackPortPair(t)
	addr := fmt.Sprintf("http://127.0.0.1:%d", port)

	logPath := filepath.Join(home, "vault.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
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
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
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
			t.Fatalf("vault dev server exited before it was ready: %v\n%s", err, logTail())
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
			t.Fatalf("vault dev server at %s not ready after 60s\n%s", addr, logTail())
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
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tv.Token)
	return c
}

func applyChanges(t *testing.T, ctx context.Context, changes []Change) {
	t.Helper()
	if err := (&Plan{Changes: changes}).execute(ctx, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
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
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return changes
}

func expectNoChanges(t *testing.T, ctx context.Context, v *vaultSide, when string) {
	t.Helper()
	if changes := mustPlan(t, ctx, v); len(changes) != 0 {
		var b strings.Builder
		(&Plan{Changes: changes}).WriteTo(&b)
		t.Fatalf("%s: plan is not empty:\n%s", when, b.String())
	}
}

// expectPlan checks the plan's changes as "op kind name" lines, in order.
func expectPlan(t *testing.T, changes []Change, want []string) {
	t.Helper()
	got := planStrings(changes)
	if !slices.Equal(got, want) {
		t.Fatalf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
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
	if err != nil {
		t.Fatal(err)
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = creds.VaultAddress
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	sec, err := c.Logical().WriteWithContext(ctx, "auth/"+creds.AuthMount+"/login", map[string]any{
		"role_id":   creds.RoleID,
		"secret_id": creds.SecretID,
	})
	if err != nil {
		t.Fatalf("approle login of %s: %v", s, err)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		t.Fatalf("approle login of %s returned no token", s)
	}
	c.SetToken(sec.Auth.ClientToken)
	return c, sec.Auth
}

// jwtParts decodes a compact JWS into header, claims and signature.
func jwtParts(t *testing.T, jwt string) (header, claims map[string]any, signingInput string, sig []byte) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("identity token has %d parts, want 3", len(parts))
	}
	dec := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("identity token segment: %v", err)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("identity token segment: %v", err)
			}
		}
	}
	dec(parts[0], &header)
	dec(parts[1], &claims)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return header, claims, parts[0] + "." + parts[1], sig
}

// verifyES384 checks the token's signature against the JWKS at jwksURL.
func verifyES384(t *testing.T, jwksURL string, header map[string]any, signingInput string, sig []byte) {
	t.Helper()
	if header["alg"] != "ES384" {
		t.Fatalf("token alg = %v, want ES384", header["alg"])
	}
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatalf("fetching JWKS: %v", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid, Kty, Crv, X, Y string
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decoding JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if k.Kid != header["kid"] {
			continue
		}
		if k.Kty != "EC" || k.Crv != "P-384" {
			t.Fatalf("JWKS key %s is %s/%s, want EC/P-384", k.Kid, k.Kty, k.Crv)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			t.Fatalf("JWKS key %s: %v", k.Kid, err)
		}
		if len(sig) != 96 {
			t.Fatalf("ES384 signature has %d bytes, want 96", len(sig))
		}
		h := sha512.Sum384([]byte(signingInput))
		r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			t.Fatal("identity token signature does not verify with the JWKS key")
		}
		return
	}
	t.Fatalf("JWKS at %s has no key %v", jwksURL, header["kid"])
}

// checkServiceIdentity logs in as s and fetches and checks its identity token.
func checkServiceIdentity(t *testing.T, ctx context.Context, root *vaultapi.Client, top *Topology, s, issuer, jwksURL string) {
	t.Helper()
	c, auth := loginAsService(t, ctx, top.Output, s)
	if !slices.Contains(auth.TokenPolicies, vaultPolicyName(s)) {
		t.Errorf("%s's token policies %v lack %s", s, auth.TokenPolicies, vaultPolicyName(s))
	}
	if !auth.Renewable || auth.LeaseDuration != int(time.Duration(top.Vault.TokenPeriod)/time.Second) {
		t.Errorf("%s's token: renewable %t, lease %ds; want a periodic token of %s", s, auth.Renewable, auth.LeaseDuration, time.Duration(top.Vault.TokenPeriod))
	}
	ent, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/"+s)
	if err != nil || ent == nil {
		t.Fatalf("reading entity %s: %v", s, err)
	}
	if auth.EntityID != ent.Data["id"] {
		t.Errorf("%s logged in as entity %s, want the managed entity %v", s, auth.EntityID, ent.Data["id"])
	}

	sec, err := c.Logical().ReadWithContext(ctx, "identity/oidc/token/"+s)
	if err != nil || sec == nil {
		t.Fatalf("%s fetching its identity token: %v", s, err)
	}
	jwt, _ := sec.Data["token"].(string)
	header, claims, input, sig := jwtParts(t, jwt)
	if claims["aud"] != top.JWT.Audience {
		t.Errorf("token aud = %v, want %s", claims["aud"], top.JWT.Audience)
	}
	if claims["name"] != s {
		t.Errorf("token name = %v, want %s", claims["name"], s)
	}
	if claims["iss"] != issuer {
		t.Errorf("token iss = %v, want the discovered issuer %s", claims["iss"], issuer)
	}
	if claims["sub"] != ent.Data["id"] {
		t.Errorf("token sub = %v, want entity id %v", claims["sub"], ent.Data["id"])
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if got := time.Duration(exp-iat) * time.Second; got != time.Duration(top.JWT.TTL) {
		t.Errorf("token lifetime = %s, want %s", got, time.Duration(top.JWT.TTL))
	}
	verifyES384(t, jwksURL, header, input, sig)

	intro, err := c.Logical().WriteWithContext(ctx, "identity/oidc/introspect", map[string]any{"token": jwt})
	if err != nil || intro == nil || intro.Data["active"] != true {
		t.Errorf("%s introspecting its own token: active=%v err=%v", s, intro, err)
	}

	// The policy grants this service's token only.
	for _, other := range top.Services {
		if other.Name == s {
			continue
		}
		if _, err := c.Logical().ReadWithContext(ctx, "identity/oidc/token/"+other.Name); err == nil {
			t.Errorf("%s could fetch the identity token of %s", s, other.Name)
		}
	}
}

func TestVaultProvisioningIntegration(t *testing.T) {
	stacktest.Integration(t)
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := tv.rootClient(t)
	out := t.TempDir()
	top := testVaultTopology(tv.Addr, out, "svc-a", "svc-b")

	// Client checks: wrong token from the environment and from a file,
	// then the right one.
	t.Setenv("VAULT_TOKEN", "not-the-token")
	if _, err := newVaultClient(ctx, top); err == nil || !strings.HasPrefix(err.Error(), "vault at "+tv.Addr+" rejected the token from VAULT_TOKEN: ") {
		t.Fatalf("bad VAULT_TOKEN: %v", err)
	}
	badFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(badFile, []byte("not-the-token\n"), 0o600)
	withFile := *top
	withFile.Vault.TokenFile = badFile
	if _, err := newVaultClient(ctx, &withFile); err == nil || !strings.Contains(err.Error(), "rejected the token from "+badFile+": ") {
		t.Fatalf("bad token file: %v", err)
	}
	t.Setenv("VAULT_TOKEN", tv.Token)
	c, err := newVaultClient(ctx, top)
	if err != nil {
		t.Fatal(err)
	}
	v := newVaultSide(c, top)

	// Vault refuses the dotted key, hence vaultManagedKey.
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{
		"name": "dotted-probe", "metadata": map[string]string{ManagedTag: ManagedValue},
	}); err == nil {
		t.Errorf("vault accepted entity metadata key %q; vaultManagedKey could be ManagedTag", ManagedTag)
		root.Logical().DeleteWithContext(ctx, "identity/entity/name/dotted-probe")
	}

	// Objects made by hand, which ztedge must never touch.
	if err := root.Sys().PutPolicyWithContext(ctx, "ops-readonly", `path "sys/health" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "ops", "policies": []string{"ops-readonly"}}); err != nil {
		t.Fatal(err)
	}

	issuer, jwksURL, err := v.discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if issuer != tv.Addr+"/v1/identity/oidc" || jwksURL != issuer+"/.well-known/keys" {
		t.Errorf("discover = %s, %s", issuer, jwksURL)
	}

	// 1. Empty Vault: everything is created.
	changes := mustPlan(t, ctx, v)
	want := []string{"create vault oidc key ztedge", "create vault auth mount ztedge-approle"}
	want = append(want, createsFor("svc-a")...)
	want = append(want, createsFor("svc-b")...)
	expectPlan(t, changes, want)
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "right after the first apply")

	key, err := root.Logical().ReadWithContext(ctx, "identity/oidc/key/ztedge")
	if err != nil || key == nil {
		t.Fatalf("reading the key: %v", err)
	}
	if ids := vault.Strings(key.Data["allowed_client_ids"]); !slices.Equal(ids, []string{"edgex"}) {
		t.Errorf("key allowed_client_ids = %v, want [edgex]", ids)
	}
	for _, s := range []string{"svc-a", "svc-b"} {
		p := credentials.Path(out, s)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", p, fi.Mode().Perm())
		}
		if di, _ := os.Stat(filepath.Dir(p)); di.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %04o", filepath.Dir(p), di.Mode().Perm())
		}
	}

	// 2. The services can log in and fetch their identity tokens.
	checkServiceIdentity(t, ctx, root, top, "svc-a", issuer, jwksURL)
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)
	expectNoChanges(t, ctx, v, "after the services logged in")

	// 3. A second plan leaves credential files alone.
	before, _ := os.ReadFile(credentials.Path(out, "svc-a"))
	applyChanges(t, ctx, mustPlan(t, ctx, v))
	if after, _ := os.ReadFile(credentials.Path(out, "svc-a")); !bytes.Equal(before, after) {
		t.Error("an empty apply rewrote svc-a's credentials")
	}

	// 4. Drift made by hand is reported field by field and repaired.
	if _, err := root.Logical().WriteWithContext(ctx, "auth/ztedge-approle/role/svc-a", map[string]any{"token_period": "2h"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicyWithContext(ctx, "ztedge-svc-b", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity/name/svc-a", map[string]any{"policies": []string{"ztedge-svc-a", "ops-readonly"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/oidc/role/svc-b", map[string]any{"template": `{"name":"someone-else"}`}); err != nil {
		t.Fatal(err)
	}
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{
		"update vault entity svc-a",
		"update vault approle role svc-a",
		"update vault policy ztedge-svc-b",
		"update vault oidc role svc-b",
	})
	details := map[string]string{}
	for _, ch := range changes {
		details[ch.Kind+" "+ch.Name] = ch.Detail
	}
	if d := details["vault approle role svc-a"]; d != "token_period: 2h0m0s -> 1h0m0s" {
		t.Errorf("approle update detail = %q", d)
	}
	if d := details["vault entity svc-a"]; !strings.Contains(d, "policies: [ops-readonly ztedge-svc-a] -> [ztedge-svc-a]") {
		t.Errorf("entity update detail = %q", d)
	}
	if d := details["vault oidc role svc-b"]; !strings.HasPrefix(d, "template: ") {
		t.Errorf("oidc role update detail = %q", d)
	}
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after repairing drift")
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)

	// 5. Lost or unusable credentials get a new secret_id; the old one is revoked.
	old, err := credentials.Read(credentials.Path(out, "svc-b"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(credentials.Path(out, "svc-b"))
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"create vault credentials svc-b"})
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after regenerating svc-b's credentials")
	if ok, err := v.secretIDValid(ctx, "svc-b", old.SecretID); err != nil || ok {
		t.Errorf("svc-b's previous secret_id is still valid (%v)", err)
	}
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)

	os.Chmod(credentials.Path(out, "svc-a"), 0o644)
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault credentials svc-a"})
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after rewriting svc-a's open credentials file")

	// A revoked secret_id is noticed.
	cur, _ := credentials.Read(credentials.Path(out, "svc-a"))
	if _, err := root.Logical().WriteWithContext(ctx, "auth/ztedge-approle/role/svc-a/secret-id/destroy", map[string]any{"secret_id": cur.SecretID}); err != nil {
		t.Fatal(err)
	}
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault credentials svc-a"})
	if !strings.Contains(changes[0].Detail, "secret_id no longer valid") {
		t.Errorf("detail = %q", changes[0].Detail)
	}
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after replacing a revoked secret_id")

	// A login made while the alias was missing gets an entity of Vault's
	// own; the plan moves the alias back to the service's entity.
	ent, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/svc-a")
	if err != nil || ent == nil {
		t.Fatal(err)
	}
	for _, raw := range ent.Data["aliases"].([]any) {
		id := raw.(map[string]any)["id"].(string)
		if _, err := root.Logical().DeleteWithContext(ctx, "identity/entity-alias/id/"+id); err != nil {
			t.Fatal(err)
		}
	}
	if _, auth := loginAsService(t, ctx, out, "svc-a"); auth.EntityID == ent.Data["id"] {
		t.Fatal("login without alias used the managed entity")
	}
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault entity alias svc-a"})
	if changes[0].Detail != "the role's alias belongs to another entity" {
		t.Errorf("alias update detail = %q", changes[0].Detail)
	}
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after moving the alias back")
	checkServiceIdentity(t, ctx, root, top, "svc-a", issuer, jwksURL)

	// 6. Removing a service deletes exactly its objects.
	topA := testVaultTopology(tv.Addr, out, "svc-a")
	vA := newVaultSide(c, topA)
	changes = mustPlan(t, ctx, vA)
	expectPlan(t, changes, deletesFor("svc-b"))
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, vA, "after removing svc-b")
	for _, p := range []string{"identity/entity/name/svc-b", "identity/oidc/role/svc-b", "auth/ztedge-approle/role/svc-b", "sys/policies/acl/ztedge-svc-b"} {
		if s, err := root.Logical().ReadWithContext(ctx, p); err != nil || s != nil {
			t.Errorf("%s still exists after removing svc-b (%v)", p, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(credentials.Path(out, "svc-b"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("svc-b's credentials folder still exists (%v)", err)
	}
	checkServiceIdentity(t, ctx, root, topA, "svc-a", issuer, jwksURL)

	// 7. An entity ztedge did not create is a conflict, never taken over.
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "svc-c", "policies": []string{"ops-readonly"}}); err != nil {
		t.Fatal(err)
	}
	vAC := newVaultSide(c, testVaultTopology(tv.Addr, out, "svc-a", "svc-c"))
	if _, err := vAC.plan(ctx); err == nil || !strings.Contains(err.Error(), `vault entity "svc-c" already exists and was not created by ztedge`) {
		t.Fatalf("plan with a foreign entity named svc-c: %v", err)
	}
	// So is a policy with a ztedge name but no managed entity.
	if err := root.Sys().PutPolicyWithContext(ctx, "ztedge-svc-d", `path "sys/health" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	vAD := newVaultSide(c, testVaultTopology(tv.Addr, out, "svc-a", "svc-d"))
	if _, err := vAD.plan(ctx); err == nil || !strings.Contains(err.Error(), `vault policy "ztedge-svc-d" already exists`) {
		t.Fatalf("plan with a foreign policy ztedge-svc-d: %v", err)
	}

	// 8. Destroy refuses while a foreign OIDC role uses the key...
	if _, err := root.Logical().WriteWithContext(ctx, "identity/oidc/role/foreign", map[string]any{"key": "ztedge", "ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := vA.destroyPlan(ctx); err == nil || !strings.Contains(err.Error(), "(foreign)") {
		t.Fatalf("destroyPlan with a foreign role on the key: %v", err)
	}
	if _, err := root.Logical().DeleteWithContext(ctx, "identity/oidc/role/foreign"); err != nil {
		t.Fatal(err)
	}

	// ...then removes everything ztedge made, and nothing else.
	changes, err = vA.destroyPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = append(deletesFor("svc-a"), "delete vault oidc key ztedge", "delete vault auth mount ztedge-approle")
	expectPlan(t, changes, want)
	applyChanges(t, ctx, changes)
	if changes, err := vA.destroyPlan(ctx); err != nil || len(changes) != 0 {
		t.Fatalf("second destroyPlan: %v %v", planStrings(changes), err)
	}
	if managed, err := vA.managedEntities(ctx); err != nil || len(managed) != 0 {
		t.Errorf("managed entities left: %d (%v)", len(managed), err)
	}
	if k, err := root.Logical().ReadWithContext(ctx, "identity/oidc/key/ztedge"); err != nil || k != nil {
		t.Errorf("oidc key still exists (%v)", err)
	}
	mounts, _ := root.Sys().ListAuthWithContext(ctx)
	if _, ok := mounts["ztedge-approle/"]; ok {
		t.Error("approle mount still enabled")
	}
	policies, _ := root.Sys().ListPoliciesWithContext(ctx)
	for _, p := range policies {
		if strings.HasPrefix(p, "ztedge-") && p != "ztedge-svc-d" {
			t.Errorf("policy %s left behind", p)
		}
	}
	for _, keep := range []string{"ops-readonly", "ztedge-svc-d"} {
		if !slices.Contains(policies, keep) {
			t.Errorf("hand-made policy %s was deleted", keep)
		}
	}
	for _, keep := range []string{"ops", "svc-c"} {
		if e, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/"+keep); err != nil || e == nil {
			t.Errorf("hand-made entity %s was deleted (%v)", keep, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(credentials.Path(out, "svc-a"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("svc-a's credentials folder still exists (%v)", err)
	}

	// 9. Provisioning again after a destroy starts from scratch and converges.
	changes = mustPlan(t, ctx, vA)
	want = []string{"create vault oidc key ztedge", "create vault auth mount ztedge-approle"}
	expectPlan(t, changes, append(want, createsFor("svc-a")...))
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, vA, "after re-provisioning")
	checkServiceIdentity(t, ctx, root, topA, "svc-a", issuer, jwksURL)
}

// A foreign AppRole mount at the configured path is a conflict, and
// destroy leaves it alone.
func TestVaultForeignMountIntegration(t *testing.T) {
	stacktest.Integration(t)
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := tv.rootClient(t)
	if err := root.Sys().EnableAuthWithOptionsWithContext(ctx, "ztedge-approle", &vaultapi.EnableAuthOptions{Type: "approle", Description: "someone else's"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TOKEN", tv.Token)
	top := testVaultTopology(tv.Addr, t.TempDir(), "svc-a")
	c, err := newVaultClient(ctx, top)
	if err != nil {
		t.Fatal(err)
	}
	v := newVaultSide(c, top)
	if _, err := v.plan(ctx); err == nil || !strings.Contains(err.Error(), `vault auth mount "ztedge-approle" exists but is not ztedge's`) {
		t.Fatalf("plan with a foreign mount: %v", err)
	}
	changes, err := v.destroyPlan(ctx)
	if err != nil || len(changes) != 0 {
		t.Fatalf("destroyPlan with only a foreign mount: %v %v", planStrings(changes), err)
	}
}
