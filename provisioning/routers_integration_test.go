package provisioning

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openziti/edge-api/rest_management_api_client/identity"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgerouter"
)

// planLines returns a plan's changes, one line each.
func planLines(t *testing.T, p *Provisioner) []string {
	t.Helper()
	plan, err := p.Plan(context.Background())
	require.NoError(t, err)
	var out []string
	for _, c := range plan.Changes {
		out = append(out, strings.TrimSpace(c.String()))
	}
	return out
}

func TestIntegrationRouters(t *testing.T) {
	st := sharedStack(t)
	top := exampleTopology(t, st)
	top.Routers = []Router{{Name: "zt-node-a", Attributes: []string{"zt-node-a"}, Advertise: "127.0.0.1", Port: 3022}}
	top.Services[0].Routers = []string{"zt-node-a"}
	require.NoError(t, top.Validate())
	ctx := context.Background()
	p := newProvisioner(t, top)
	plan := apply(t, p)
	var created []string
	for _, c := range plan.Changes {
		if c.Kind == (routerKind{}).kind() || strings.Contains(c.Name, "edge-routers") {
			created = append(created, c.String())
		}
	}
	t.Logf("router changes: %q", created)
	t.Cleanup(func() { _, _ = newProvisioner(t, top).Destroy(ctx, nil) })
	token := credentials.RouterTokenPath(top.Output, "zt-node-a")

	t.Run("the router is created with its token, private, and a second apply changes nothing", func(t *testing.T) {
		fi, err := os.Stat(token)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		tok, err := edgerouter.ReadToken(token)
		require.NoError(t, err, "a router's token (enrolment method erott)")
		ctrl, err := tok.Controller()
		require.NoError(t, err)
		assert.Contains(t, st.ControllerURL, ctrl)
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("policies name the router by ID on the controller and by name in plans", func(t *testing.T) {
		p := newProvisioner(t, top)
		objs, err := p.ziti.listAll(ctx)
		require.NoError(t, err)
		erp := byName(t, objs.routerPolicies, "ztedge.edge-routers.@zt-node-a")
		assert.Equal(t, []string{"@zt-node-a"}, erp.EdgeRouterRoles)
		assert.Equal(t, []string{"#ztedge.routers.router.zt-node-a"}, erp.IdentityRoles)
		// What the controller makes of it: of ztedge's policies, only its
		// router's applies to the pinned service.
		id, err := p.ziti.idOf(identityKind{}.kind(), "core-data")
		require.NoError(t, err)
		policies, err := p.ziti.api.Identity.ListIdentitysEdgeRouterPolicies(
			&identity.ListIdentitysEdgeRouterPoliciesParams{ID: id, Context: ctx}, nil)
		require.NoError(t, err)
		var names []string
		for _, pol := range policies.Payload.Data {
			if strings.HasPrefix(*pol.Name, edgeRouterPolicyName) {
				names = append(names, *pol.Name)
			}
		}
		assert.Equal(t, []string{"ztedge.edge-routers.@zt-node-a"}, names, "a pinned service is not in the default policy")
	})

	t.Run("a lost or changed token file is written again", func(t *testing.T) {
		want, err := os.ReadFile(token)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(token, []byte("stale"), 0o600))
		assert.Equal(t, []string{"update ziti edge-router zt-node-a (enrolment token file outdated)"}, planLines(t, newProvisioner(t, top)))
		apply(t, newProvisioner(t, top))
		got, err := os.ReadFile(token)
		require.NoError(t, err)
		assert.Equal(t, want, got, "the same token: it is still valid")

		require.NoError(t, os.Remove(token))
		assert.Equal(t, []string{"update ziti edge-router zt-node-a (enrolment token file missing)"}, planLines(t, newProvisioner(t, top)))
		apply(t, newProvisioner(t, top))
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("an expired token is re-issued", func(t *testing.T) {
		old, err := os.ReadFile(token)
		require.NoError(t, err)
		rp := newProvisioner(t, top)
		objs, err := rp.ziti.listAll(ctx)
		require.NoError(t, err)
		have := objs.routers[slices.IndexFunc(objs.routers, func(o zitiObject[routerSpec]) bool { return o.Name == "zt-node-a" })]
		have.Spec.TokenProblem = tokenExpired // as the plan says once it expired
		require.NoError(t, routerKind{}.update(ctx, rp.ziti, have, zitiObject[routerSpec]{Name: have.Name, Spec: routerSpec{RoleAttributes: have.Spec.RoleAttributes}}))
		renewed, err := os.ReadFile(token)
		require.NoError(t, err)
		assert.NotEqual(t, old, renewed, "a new token")
		_, err = edgerouter.ReadToken(token)
		require.NoError(t, err)
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("attributes and tunneler are updated in place", func(t *testing.T) {
		top.Routers[0].Attributes = []string{"zt-node-a", "zt-plant"}
		top.Routers[0].Tunneler = true
		assert.Equal(t, []string{"update ziti edge-router zt-node-a (roleAttributes: [zt-node-a] -> [zt-node-a zt-plant]; isTunnelerEnabled: false -> true)"},
			planLines(t, newProvisioner(t, top)))
		apply(t, newProvisioner(t, top))
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("an @<id> role of a router ztedge did not make stays as written", func(t *testing.T) {
		objs, err := newProvisioner(t, top).ziti.listAll(ctx)
		require.NoError(t, err)
		var foreign string
		for _, r := range objs.routers {
			if !r.Managed {
				foreign = r.ID
			}
		}
		require.NotEmpty(t, foreign, "the stack's own router")
		top.Ziti.EdgeRouterRoles = []string{"@" + foreign}
		apply(t, newProvisioner(t, top))
		requireNoChanges(t, newProvisioner(t, top))
		top.Ziti.EdgeRouterRoles = []string{"#all"}
		apply(t, newProvisioner(t, top))
	})

	t.Run("destroy deletes the router and its token file", func(t *testing.T) {
		dp := newProvisioner(t, top)
		_, err := dp.Destroy(ctx, nil)
		require.NoError(t, err)
		objs, err := dp.ziti.listAll(ctx)
		require.NoError(t, err)
		assert.Empty(t, managedLeft(objs))
		assert.NotEmpty(t, objs.routers, "the stack's own router is kept")
		_, err = os.Stat(token)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
