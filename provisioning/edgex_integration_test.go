package provisioning

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/vault"
)

// edgexVaultPlan is the Vault part of Provisioner.Plan, in its order:
// EdgeX removals, the Vault objects, the secrets mount, the EdgeX files.
func edgexVaultPlan(t *testing.T, ctx context.Context, v *vaultSide, top *Topology) ([]Change, error) {
	t.Helper()
	require.Same(t, top, v.t)
	return vaultChanges(ctx, v)
}

func TestEdgeXVaultIntegration(t *testing.T) {
	stacktest.Integration(t)
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := tv.rootClient(t)
	out := t.TempDir()
	top := testVaultTopology(tv.Addr, out, "core-data", "device-probe")
	top.Vault.SecretsMount = DefaultSecretsMount
	top.Services[1].EdgeX, top.Services[1].Secrets = true, true
	t.Setenv("VAULT_TOKEN", tv.Token)
	c, err := newVaultClient(ctx, top)
	require.NoError(t, err)
	v := newVaultSide(c, top)
	plan := func() []Change {
		t.Helper()
		changes, err := edgexVaultPlan(t, ctx, v, top)
		require.NoError(t, err)
		return changes
	}

	t.Run("a KV version 2 mount at secret/ (the dev server's) is a conflict, named", func(t *testing.T) {
		_, err := edgexVaultPlan(t, ctx, v, top)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "vault mount secret/ is a KV version 2 secrets engine")
		assert.Contains(t, err.Error(), "vault secrets disable secret")
		// The operator does what the message says.
		require.NoError(t, root.Sys().UnmountWithContext(ctx, "secret"))
	})

	t.Run("apply creates the KV version 1 mount, the token file and the env file; a second plan is empty", func(t *testing.T) {
		changes := plan()
		got := strings.Join(planStrings(changes), "\n")
		assert.Contains(t, got, "create vault secrets mount secret")
		assert.Contains(t, got, "create edgex token file device-probe")
		assert.Contains(t, got, "create edgex env file device-probe")
		assert.NotContains(t, got, "edgex token file core-data")
		applyChanges(t, ctx, changes)
		assert.Empty(t, planStrings(plan()))

		mounts, err := root.Sys().ListMountsWithContext(ctx)
		require.NoError(t, err)
		require.NotNil(t, mounts["secret/"])
		assert.Equal(t, "kv", mounts["secret/"].Type)
		assert.Equal(t, "1", mounts["secret/"].Options["version"])
		assert.Equal(t, secretsMountDescription, mounts["secret/"].Description)

		env, err := os.ReadFile(EdgeXEnvFile(out, "device-probe"))
		require.NoError(t, err)
		assert.Contains(t, string(env), "SECRETSTORE_TOKENFILE="+EdgeXTokenFile(out, "device-probe")+"\n")
	})

	tokenClient := func(t *testing.T) (*vaultapi.Client, *edgextoken.File) {
		t.Helper()
		f, err := edgextoken.Read(EdgeXTokenFile(out, "device-probe"))
		require.NoError(t, err)
		sc, err := root.Clone()
		require.NoError(t, err)
		sc.SetToken(f.Auth.ClientToken)
		return sc, f
	}

	t.Run("the token keeps its own secrets, nobody else's, and signs its own JWT", func(t *testing.T) {
		sc, _ := tokenClient(t)
		_, err := vault.Write(ctx, sc, "secret/edgex/device-probe/db", map[string]any{"password": "x"})
		require.NoError(t, err)
		data, err := vault.Read(ctx, sc, "secret/edgex/device-probe/db")
		require.NoError(t, err)
		assert.Equal(t, "x", data["password"])
		keys, err := vault.List(ctx, sc, "secret/edgex/device-probe")
		require.NoError(t, err)
		assert.Equal(t, []any{"db"}, keys["keys"])
		_, err = vault.Write(ctx, sc, "secret/edgex/core-data/db", map[string]any{"password": "x"})
		assert.Equal(t, 403, vault.StatusOf(err))
		_, err = vault.Read(ctx, sc, "identity/oidc/token/device-probe")
		assert.NoError(t, err)
		_, err = vault.Read(ctx, sc, "identity/oidc/token/core-data")
		assert.Equal(t, 403, vault.StatusOf(err))
	})

	t.Run("a dead token is replaced at the next apply", func(t *testing.T) {
		sc, f := tokenClient(t)
		require.NoError(t, edgextoken.Revoke(ctx, sc, f.Auth.ClientToken))
		changes := plan()
		assert.Equal(t, []string{"update edgex token file device-probe"}, planStrings(changes))
		assert.Equal(t, "vault no longer accepts its token", changes[0].Detail)
		applyChanges(t, ctx, changes)
		assert.Empty(t, planStrings(plan()))
	})

	t.Run("no longer an EdgeX service: its token is revoked and its files removed", func(t *testing.T) {
		_, f := tokenClient(t)
		top.Services[1].EdgeX = false
		changes := plan()
		assert.Equal(t, []string{"delete edgex token file device-probe", "delete edgex env file device-probe"}, planStrings(changes))
		applyChanges(t, ctx, changes)
		_, err := edgextoken.Lookup(ctx, root, f.Auth.ClientToken)
		assert.ErrorIs(t, err, edgextoken.ErrTokenInvalid)
		_, err = os.Stat(EdgeXTokenFile(out, "device-probe"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.Empty(t, planStrings(plan()))
		top.Services[1].EdgeX = true
		applyChanges(t, ctx, plan())
	})

	t.Run("destroy revokes the token and disables the mount ztedge created", func(t *testing.T) {
		_, f := tokenClient(t)
		pre, err := planEdgeXRemovals(ctx, c, out, nil)
		require.NoError(t, err)
		vd, err := v.destroyPlan(ctx)
		require.NoError(t, err)
		md, err := destroySecretsMount(ctx, c, top)
		require.NoError(t, err)
		assert.Equal(t, []string{"delete vault secrets mount secret"}, planStrings(md))
		applyChanges(t, ctx, append(append(pre, vd...), md...))
		_, err = edgextoken.Lookup(ctx, root, f.Auth.ClientToken)
		assert.ErrorIs(t, err, edgextoken.ErrTokenInvalid)
		mounts, err := root.Sys().ListMountsWithContext(ctx)
		require.NoError(t, err)
		assert.Nil(t, mounts["secret/"])
	})

	t.Run("a KV version 1 mount someone else made is used and kept", func(t *testing.T) {
		require.NoError(t, root.Sys().MountWithContext(ctx, "secret", &vaultapi.MountInput{Type: "kv", Description: "EdgeX's", Options: map[string]string{"version": "1"}}))
		got := planStrings(plan())
		assert.NotContains(t, got, "create vault secrets mount secret")
		md, err := destroySecretsMount(ctx, c, top)
		require.NoError(t, err)
		assert.Empty(t, md, "not ztedge's: never disabled")
	})

	t.Run("secret/edgex cannot be mounted inside another mount at secret/", func(t *testing.T) {
		top.Vault.SecretsMount = "secret/edgex"
		_, err := edgexVaultPlan(t, ctx, v, top)
		assert.ErrorContains(t, err, `vault.secretsMount "secret/edgex" cannot be created inside the kv mount at secret/`)
	})
}
