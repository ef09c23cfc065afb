package provisioning_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/provisioning"
)

// userJWT logs in as user u and returns the user's JWT.
func userJWT(t *testing.T, vaultAddr string, u *provisioning.User) string {
	t.Helper()
	c, err := vault.NewClient(vault.Config{Address: vaultAddr})
	require.NoError(t, err)
	sec, err := c.Logical().WriteWithContext(t.Context(), u.LoginPath, map[string]any{"password": u.Password})
	require.NoError(t, err, "userpass login of %s", u.Name)
	c.SetToken(sec.Auth.ClientToken)
	sec, err = c.Logical().ReadWithContext(t.Context(), u.TokenPath)
	require.NoError(t, err, "reading the JWT of %s", u.Name)
	jwt, _ := sec.Data["token"].(string)
	require.NotEmpty(t, jwt)
	return jwt
}

// payload decodes a JWT's claims without verifying it.
func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(b, &claims))
	return claims
}

// TestIntegrationUsers checks what user add and remove do in Vault.
func TestIntegrationUsers(t *testing.T) {
	stacktest.Integration(t)
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, "../examples/topology.yaml", nil)
	ctx := t.Context()
	token, err := st.VaultToken()
	require.NoError(t, err)
	vc, err := provisioning.NewVaultClient(ctx, st.VaultAddress, token, "the stack's root token", "")
	require.NoError(t, err)
	users, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: top.Vault.Key, Audience: top.JWT.Audience})
	require.NoError(t, err)

	u, err := users.Add(ctx, "grace")
	require.NoError(t, err)
	read := func(path string) map[string]any {
		d, err := vault.Read(ctx, vc, path)
		require.NoError(t, err, path)
		return d
	}
	mounts, err := vc.Sys().ListAuthWithContext(ctx)
	require.NoError(t, err)
	m := mounts[provisioning.DefaultUserMount+"/"]
	require.NotNil(t, m)
	assert.Equal(t, "userpass", m.Type)
	assert.Equal(t, "managed by ztedge", m.Description)

	role := read("identity/oidc/role/grace")
	require.NotNil(t, role)
	assert.Equal(t, top.Vault.Key, role["key"])
	assert.Equal(t, top.JWT.Audience, role["client_id"])
	assert.JSONEq(t, `{"name":"grace"}`, vault.String(role["template"]))
	assert.Equal(t, json.Number("3600"), role["ttl"])

	e := vault.ParseEntity(read("identity/entity/name/grace"))
	assert.Equal(t, "true", e.Metadata[provisioning.UserMetadataKey])
	assert.Empty(t, e.Metadata["ztedge-managed"], "a user is not a service")
	require.Len(t, e.Aliases, 1)
	assert.Equal(t, "grace", e.Aliases[0].Name)
	assert.Equal(t, m.Accessor, e.Aliases[0].MountAccessor)
	policy, err := vc.Sys().GetPolicyWithContext(ctx, "ztedge-user-grace")
	require.NoError(t, err)
	assert.Contains(t, policy, `path "identity/oidc/token/grace"`)
	assert.NotContains(t, policy, "introspect")

	// The JWT names the user and its entity.
	c := payload(t, userJWT(t, st.VaultAddress, u))
	assert.Equal(t, "grace", c["name"])
	assert.Equal(t, u.EntityID, c["sub"])
	assert.Equal(t, top.JWT.Audience, c["aud"])
	// A user may read only its own JWT.
	uc, err := vault.NewClient(vault.Config{Address: st.VaultAddress})
	require.NoError(t, err)
	sec, err := uc.Logical().WriteWithContext(ctx, u.LoginPath, map[string]any{"password": u.Password})
	require.NoError(t, err)
	uc.SetToken(sec.Auth.ClientToken)
	_, err = uc.Logical().ReadWithContext(ctx, "identity/oidc/token/core-data")
	assert.Error(t, err, "a user could read a service's JWT")

	// Adding again keeps the entity and changes the password.
	again, err := users.Add(ctx, "grace")
	require.NoError(t, err)
	assert.Equal(t, u.EntityID, again.EntityID)
	assert.NotEqual(t, u.Password, again.Password)
	_, err = uc.Logical().WriteWithContext(ctx, u.LoginPath, map[string]any{"password": u.Password})
	assert.Error(t, err, "the old password still logs in")

	// Clashes and bad names are refused.
	for name, want := range map[string]string{
		"core-data": "is a ztedge service",
		"Grace":     "lower-case",
		"g":         "2 to 63",
		"bad_name":  "lower-case",
	} {
		_, err := users.Add(ctx, name)
		assert.ErrorContains(t, err, want, "add %q", name)
	}
	assert.ErrorContains(t, users.Remove(ctx, "core-data"), "is a ztedge service")
	_, err = vc.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": "foreign-person"})
	require.NoError(t, err)
	_, err = users.Add(ctx, "foreign-person")
	assert.ErrorContains(t, err, "not created by ztedge")
	_, err = vc.Logical().WriteWithContext(ctx, "identity/oidc/role/foreign-role", map[string]any{"key": top.Vault.Key, "client_id": "x"})
	require.NoError(t, err)
	_, err = users.Add(ctx, "foreign-role")
	assert.ErrorContains(t, err, "OIDC role")
	noKey, err := provisioning.NewUsers(vc, provisioning.UserOptions{Key: "no-such-key"})
	require.NoError(t, err)
	_, err = noKey.Add(ctx, "henry")
	assert.ErrorContains(t, err, `OIDC key "no-such-key" does not exist`)

	// Provisioning leaves users alone: with grace in Vault, a re-apply of
	// the topology plans nothing.
	p, err := provisioning.New(ctx, top, nil)
	require.NoError(t, err)
	plan, err := p.Plan(ctx)
	require.NoError(t, err)
	for _, c := range plan.Changes {
		assert.False(t, strings.HasPrefix(c.Kind, "vault"), "with a user in Vault, provisioning plans a Vault change: %s", c)
	}

	// Remove deletes exactly the user's objects; the services are intact.
	require.NoError(t, users.Remove(ctx, "grace"))
	for _, p := range []string{"identity/oidc/role/grace", "identity/entity/name/grace", "auth/" + provisioning.DefaultUserMount + "/users/grace"} {
		assert.Nil(t, read(p), "%s still exists after remove", p)
	}
	policy, _ = vc.Sys().GetPolicyWithContext(ctx, "ztedge-user-grace")
	assert.Empty(t, policy, "the policy still exists after remove")
	for _, p := range []string{"identity/oidc/role/core-data", "identity/entity/name/core-data", "identity/entity/name/foreign-person", "identity/oidc/role/foreign-role"} {
		assert.NotNil(t, read(p), "%s was deleted by user remove", p)
	}
	assert.ErrorContains(t, users.Remove(ctx, "grace"), "no ztedge user")
}
