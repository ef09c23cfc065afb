package provisioning

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

// An OIDC key that OIDC roles ztedge did not create also sign with is not
// changed so that they can no longer get tokens: the plan refuses, naming
// them, and the key stays as it was.
func TestIntegrationVaultKeyOfOthersIsNotNarrowed(t *testing.T) {
	stacktest.Integration(t)
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := tv.rootClient(t)
	_, err := root.Logical().WriteWithContext(ctx, "identity/oidc/key/ztedge", map[string]any{
		"allowed_client_ids": []string{"other-app"}, "algorithm": "RS256"})
	require.NoError(t, err)
	_, err = root.Logical().WriteWithContext(ctx, "identity/oidc/role/other-app", map[string]any{
		"key": "ztedge", "client_id": "other-app", "ttl": "1h"})
	require.NoError(t, err)

	top := testVaultTopology(tv.Addr, t.TempDir(), "svc-a")
	_, err = newVaultSide(root, top).plan(ctx)
	require.Error(t, err, "the plan narrowed a key another OIDC role uses")
	assert.ErrorContains(t, err, "other-app")
	key, err := root.Logical().ReadWithContext(ctx, "identity/oidc/key/ztedge")
	require.NoError(t, err)
	assert.Equal(t, []any{"other-app"}, key.Data["allowed_client_ids"])

	// A key whose other users keep their client_id allowed is fine.
	_, err = root.Logical().WriteWithContext(ctx, "identity/oidc/role/other-app", map[string]any{
		"key": "ztedge", "client_id": "edgex", "ttl": "1h"})
	require.NoError(t, err)
	v := newVaultSide(root, top)
	applyChanges(t, ctx, mustPlan(t, ctx, v))
	expectNoChanges(t, ctx, v, "second apply")
}
