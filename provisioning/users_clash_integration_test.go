package provisioning

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

// A user's policy is ztedge-user-<name>, the name of the policy of a
// service called user-<name>: adding or removing user bob must not touch
// the policy of service user-bob.
func TestIntegrationUsersLeaveServicePoliciesAlone(t *testing.T) {
	stacktest.Integration(t)
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := tv.rootClient(t)
	top := testVaultTopology(tv.Addr, t.TempDir(), "user-bob")
	v := newVaultSide(root, top)
	applyChanges(t, ctx, mustPlan(t, ctx, v))
	policy := vaultPolicyName("user-bob")
	require.Equal(t, UserPolicyName("bob"), policy, "the names clash")
	servicePolicy, err := root.Sys().GetPolicyWithContext(ctx, policy)
	require.NoError(t, err)
	require.NotEmpty(t, servicePolicy)

	users, err := NewUsers(root, UserOptions{Key: top.Vault.Key, Audience: top.JWT.Audience})
	require.NoError(t, err)
	err = users.Remove(ctx, "bob")
	assert.ErrorContains(t, err, `no ztedge user "bob"`)
	got, err := root.Sys().GetPolicyWithContext(ctx, policy)
	require.NoError(t, err)
	assert.Equal(t, servicePolicy, got, "removing a user who does not exist deleted service user-bob's policy")

	_, err = users.Add(ctx, "bob")
	assert.ErrorContains(t, err, policy)
	got, err = root.Sys().GetPolicyWithContext(ctx, policy)
	require.NoError(t, err)
	assert.Equal(t, servicePolicy, got, "adding user bob rewrote service user-bob's policy")
	expectNoChanges(t, ctx, v, "after user add and remove")
}
