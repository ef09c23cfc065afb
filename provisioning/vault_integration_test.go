// The Vault side of provisioning against a real Vault dev server: one
// scenario from an empty Vault through drift, lost credentials, removal,
// conflicts, destroy and a new start. The helpers are in
// vault_helpers_test.go.

package provisioning

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/vault"
)

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
	_, err := newVaultClient(ctx, top)
	require.Error(t, err, "bad VAULT_TOKEN")
	require.True(t, strings.HasPrefix(err.Error(), "vault at "+tv.Addr+" rejected the token from VAULT_TOKEN: "), "bad VAULT_TOKEN: %v", err)
	badFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(badFile, []byte("not-the-token\n"), 0o600)
	withFile := *top
	withFile.Vault.TokenFile = badFile
	_, err = newVaultClient(ctx, &withFile)
	require.ErrorContains(t, err, "rejected the token from "+badFile+": ", "bad token file")
	t.Setenv("VAULT_TOKEN", tv.Token)
	c, err := newVaultClient(ctx, top)
	require.NoError(t, err)
	v := newVaultSide(c, top)

	// Vault refuses the dotted key, hence vaultManagedKey.
	_, err = root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{
		"name": "dotted-probe", "metadata": map[string]string{ManagedTag: ManagedValue},
	})
	if !assert.Error(t, err, "vault accepted entity metadata key %q; vaultManagedKey could be ManagedTag", ManagedTag) {
		root.Logical().DeleteWithContext(ctx, "identity/entity/name/dotted-probe")
	}

	// Objects made by hand, which ztedge must never touch.
	require.NoError(t, root.Sys().PutPolicyWithContext(ctx, "ops-readonly", `path "sys/health" { capabilities = ["read"] }`))
	_, err = root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "ops", "policies": []string{"ops-readonly"}})
	require.NoError(t, err)

	issuer, jwksURL, err := discoverIssuer(ctx, top)
	require.NoError(t, err)
	assert.Equal(t, tv.Addr+"/v1/identity/oidc", issuer, "discovered issuer")
	assert.Equal(t, issuer+"/.well-known/keys", jwksURL, "discovered JWKS URL")

	// 1. Empty Vault: everything is created.
	changes := mustPlan(t, ctx, v)
	want := []string{"create vault oidc key ztedge", "create vault auth mount ztedge-approle"}
	want = append(want, createsFor("svc-a")...)
	want = append(want, createsFor("svc-b")...)
	expectPlan(t, changes, want)
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "right after the first apply")

	key, err := root.Logical().ReadWithContext(ctx, "identity/oidc/key/ztedge")
	require.NoError(t, err, "reading the key")
	require.NotNil(t, key, "the key")
	assert.Equal(t, []string{"edgex"}, vault.Strings(key.Data["allowed_client_ids"]), "key allowed_client_ids")
	for _, s := range []string{"svc-a", "svc-b"} {
		p := credentials.Path(out, s)
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode of %s", p)
		di, err := os.Stat(filepath.Dir(p))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), "mode of %s", filepath.Dir(p))
	}

	// 2. The services can log in and fetch their identity tokens.
	checkServiceIdentity(t, ctx, root, top, "svc-a", issuer, jwksURL)
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)
	expectNoChanges(t, ctx, v, "after the services logged in")

	// 3. A second plan leaves credential files alone.
	before, _ := os.ReadFile(credentials.Path(out, "svc-a"))
	applyChanges(t, ctx, mustPlan(t, ctx, v))
	after, _ := os.ReadFile(credentials.Path(out, "svc-a"))
	// True, not Equal: a failure must not print the secret_id.
	assert.True(t, bytes.Equal(before, after), "an empty apply rewrote svc-a's credentials")

	// 4. Drift made by hand is reported field by field and repaired.
	_, err = root.Logical().WriteWithContext(ctx, "auth/ztedge-approle/role/svc-a", map[string]any{"token_period": "2h"})
	require.NoError(t, err)
	require.NoError(t, root.Sys().PutPolicyWithContext(ctx, "ztedge-svc-b", `path "secret/*" { capabilities = ["read"] }`))
	_, err = root.Logical().WriteWithContext(ctx, "identity/entity/name/svc-a", map[string]any{"policies": []string{"ztedge-svc-a", "ops-readonly"}})
	require.NoError(t, err)
	_, err = root.Logical().WriteWithContext(ctx, "identity/oidc/role/svc-b", map[string]any{"template": `{"name":"someone-else"}`})
	require.NoError(t, err)
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
	assert.Equal(t, "token_period: 2h0m0s -> 1h0m0s", details["vault approle role svc-a"], "approle update detail")
	assert.Contains(t, details["vault entity svc-a"], "policies: [ops-readonly ztedge-svc-a] -> [ztedge-svc-a]", "entity update detail")
	assert.True(t, strings.HasPrefix(details["vault oidc role svc-b"], "template: "), "oidc role update detail = %q", details["vault oidc role svc-b"])
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after repairing drift")
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)

	// 5. Lost or unusable credentials get a new secret_id; the old one is revoked.
	old, err := credentials.Read(credentials.Path(out, "svc-b"))
	require.NoError(t, err)
	os.Remove(credentials.Path(out, "svc-b"))
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"create vault credentials svc-b"})
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after regenerating svc-b's credentials")
	ok, err := v.secretIDValid(ctx, "svc-b", old.SecretID)
	assert.NoError(t, err, "checking svc-b's previous secret_id")
	assert.False(t, ok, "svc-b's previous secret_id is still valid")
	checkServiceIdentity(t, ctx, root, top, "svc-b", issuer, jwksURL)

	os.Chmod(credentials.Path(out, "svc-a"), 0o644)
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault credentials svc-a"})
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after rewriting svc-a's open credentials file")

	// A revoked secret_id is noticed.
	cur, _ := credentials.Read(credentials.Path(out, "svc-a"))
	_, err = root.Logical().WriteWithContext(ctx, "auth/ztedge-approle/role/svc-a/secret-id/destroy", map[string]any{"secret_id": cur.SecretID})
	require.NoError(t, err)
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault credentials svc-a"})
	assert.Contains(t, changes[0].Detail, "secret_id no longer valid", "detail")
	applyChanges(t, ctx, changes)
	expectNoChanges(t, ctx, v, "after replacing a revoked secret_id")

	// A login made while the alias was missing gets an entity of Vault's
	// own; the plan moves the alias back to the service's entity.
	ent, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/svc-a")
	require.NoError(t, err)
	require.NotNil(t, ent, "entity svc-a")
	for _, raw := range ent.Data["aliases"].([]any) {
		id := raw.(map[string]any)["id"].(string)
		_, err := root.Logical().DeleteWithContext(ctx, "identity/entity-alias/id/"+id)
		require.NoError(t, err)
	}
	_, auth := loginAsService(t, ctx, out, "svc-a")
	require.NotEqual(t, ent.Data["id"], auth.EntityID, "login without alias used the managed entity")
	changes = mustPlan(t, ctx, v)
	expectPlan(t, changes, []string{"update vault entity alias svc-a"})
	assert.Equal(t, "the role's alias belongs to another entity", changes[0].Detail, "alias update detail")
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
		s, err := root.Logical().ReadWithContext(ctx, p)
		assert.NoError(t, err, "reading %s", p)
		assert.Nil(t, s, "%s still exists after removing svc-b", p)
	}
	_, err = os.Stat(filepath.Dir(credentials.Path(out, "svc-b")))
	assert.ErrorIs(t, err, os.ErrNotExist, "svc-b's credentials folder still exists")
	checkServiceIdentity(t, ctx, root, topA, "svc-a", issuer, jwksURL)

	// 7. An entity ztedge did not create is a conflict, never taken over.
	_, err = root.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "svc-c", "policies": []string{"ops-readonly"}})
	require.NoError(t, err)
	vAC := newVaultSide(c, testVaultTopology(tv.Addr, out, "svc-a", "svc-c"))
	_, err = vAC.plan(ctx)
	require.ErrorContains(t, err, `vault entity "svc-c" already exists and was not created by ztedge`, "plan with a foreign entity named svc-c")
	// So is a policy with a ztedge name but no managed entity.
	require.NoError(t, root.Sys().PutPolicyWithContext(ctx, "ztedge-svc-d", `path "sys/health" { capabilities = ["read"] }`))
	vAD := newVaultSide(c, testVaultTopology(tv.Addr, out, "svc-a", "svc-d"))
	_, err = vAD.plan(ctx)
	require.ErrorContains(t, err, `vault policy "ztedge-svc-d" already exists`, "plan with a foreign policy ztedge-svc-d")

	// 8. Destroy refuses while a foreign OIDC role uses the key...
	_, err = root.Logical().WriteWithContext(ctx, "identity/oidc/role/foreign", map[string]any{"key": "ztedge", "ttl": "1h"})
	require.NoError(t, err)
	_, err = vA.destroyPlan(ctx)
	require.ErrorContains(t, err, "(foreign)", "destroyPlan with a foreign role on the key")
	_, err = root.Logical().DeleteWithContext(ctx, "identity/oidc/role/foreign")
	require.NoError(t, err)

	// ...then removes everything ztedge made, and nothing else.
	changes, err = vA.destroyPlan(ctx)
	require.NoError(t, err)
	want = append(deletesFor("svc-a"), "delete vault oidc key ztedge", "delete vault auth mount ztedge-approle")
	expectPlan(t, changes, want)
	applyChanges(t, ctx, changes)
	changes, err = vA.destroyPlan(ctx)
	require.NoError(t, err, "second destroyPlan")
	require.Empty(t, planStrings(changes), "second destroyPlan")
	managed, err := vA.managedEntities(ctx)
	assert.NoError(t, err, "listing managed entities")
	assert.Empty(t, managed, "managed entities left")
	k, err := root.Logical().ReadWithContext(ctx, "identity/oidc/key/ztedge")
	assert.NoError(t, err, "reading the oidc key")
	assert.Nil(t, k, "oidc key still exists")
	mounts, _ := root.Sys().ListAuthWithContext(ctx)
	assert.NotContains(t, mounts, "ztedge-approle/", "approle mount still enabled")
	policies, _ := root.Sys().ListPoliciesWithContext(ctx)
	for _, p := range policies {
		assert.False(t, strings.HasPrefix(p, "ztedge-") && p != "ztedge-svc-d", "policy %s left behind", p)
	}
	for _, keep := range []string{"ops-readonly", "ztedge-svc-d"} {
		assert.Contains(t, policies, keep, "hand-made policy %s was deleted", keep)
	}
	for _, keep := range []string{"ops", "svc-c"} {
		e, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/"+keep)
		assert.NoError(t, err, "reading entity %s", keep)
		assert.NotNil(t, e, "hand-made entity %s was deleted", keep)
	}
	_, err = os.Stat(filepath.Dir(credentials.Path(out, "svc-a")))
	assert.ErrorIs(t, err, os.ErrNotExist, "svc-a's credentials folder still exists")

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
	require.NoError(t, root.Sys().EnableAuthWithOptionsWithContext(ctx, "ztedge-approle", &vaultapi.EnableAuthOptions{Type: "approle", Description: "someone else's"}))
	t.Setenv("VAULT_TOKEN", tv.Token)
	top := testVaultTopology(tv.Addr, t.TempDir(), "svc-a")
	c, err := newVaultClient(ctx, top)
	require.NoError(t, err)
	v := newVaultSide(c, top)
	_, err = v.plan(ctx)
	require.ErrorContains(t, err, `vault auth mount "ztedge-approle" exists but is not ztedge's`, "plan with a foreign mount")
	changes, err := v.destroyPlan(ctx)
	require.NoError(t, err, "destroyPlan with only a foreign mount")
	require.Empty(t, planStrings(changes), "destroyPlan with only a foreign mount")
}
