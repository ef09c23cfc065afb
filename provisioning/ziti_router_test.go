package provisioning

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
)

// pinnedYAML is a topology of two nodes, each with a router and a
// service pinned to it, a laptop client pinned to the hub's routers by
// attribute, and one unpinned service.
const pinnedYAML = `
vault:
  address: http://198.18.0.1:8200
ziti:
  controller: 198.18.0.1:1280
output: /tmp/out
routers:
  - name: node-a
    attributes: [node-a, nodes]
    advertise: 198.18.0.2
  - name: node-b
    attributes: [node-b, nodes]
    advertise: node-b.example.net
    port: 4443
    tunneler: true
services:
  - name: alpha
    routers: [node-a]
  - name: beta
    routers: ["#node-b"]
  - name: gamma
clients:
  - name: laptop
    routers: ["#public"]
dial:
  - from: [beta, laptop]
    to: [alpha]
  - from: [alpha]
    to: [gamma]
`

func parsePinned(t *testing.T) *Topology {
	t.Helper()
	top, err := Parse([]byte(pinnedYAML))
	require.NoError(t, err)
	require.NoError(t, top.Validate())
	return top
}

func TestRoutersDefaults(t *testing.T) {
	top := parsePinned(t)
	assert.Equal(t, DefaultRouterPort, top.Routers[0].Port)
	assert.Equal(t, 4443, top.Routers[1].Port)
	assert.Zero(t, top.Routers[0].LinkPort, "no link listener unless asked")
}

func TestZitiDesiredRouters(t *testing.T) {
	d := testZitiSide(parsePinned(t)).desired()
	a := byName(t, d.routers, "node-a")
	assert.Equal(t, []string{"node-a", "nodes"}, a.RoleAttributes)
	assert.False(t, a.Tunneler)
	assert.True(t, byName(t, d.routers, "node-b").Tunneler)
}

// selected returns, for each policy, the objects its roles select by
// attribute (policies name no objects directly).
func selected[P any, O any](t *testing.T, policies []zitiObject[P], roles func(P) []string, objs []zitiObject[O], attrs func(O) []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range policies {
		rs := roles(p.Spec)
		require.Len(t, rs, 1, p.Name)
		require.True(t, strings.HasPrefix(rs[0], "#"), "%s selects by attribute: %v", p.Name, rs)
		for _, o := range objs {
			if slices.Contains(attrs(o.Spec), rs[0][1:]) {
				out[p.Name] = append(out[p.Name], o.Name)
			}
		}
	}
	return out
}

func TestZitiDesiredPinsIdentitiesAndServicesToRouters(t *testing.T) {
	d := testZitiSide(parsePinned(t)).desired()
	routers := map[string][]string{}
	for _, p := range d.routerPolicies {
		routers[p.Name] = p.Spec.EdgeRouterRoles
	}
	assert.Equal(t, map[string][]string{
		"ztedge.edge-routers": {"#all"}, "ztedge.edge-routers.@node-a": {"@node-a"},
		"ztedge.edge-routers.#node-b": {"#node-b"}, "ztedge.edge-routers.#public": {"#public"},
	}, routers)
	assert.Equal(t, map[string][]string{
		"ztedge.edge-routers":         {"gamma"},
		"ztedge.edge-routers.@node-a": {"alpha"},
		"ztedge.edge-routers.#node-b": {"beta"},
		"ztedge.edge-routers.#public": {"laptop"},
	}, selected(t, d.routerPolicies, func(p routerPolicySpec) []string { return p.IdentityRoles },
		d.identities, func(i identitySpec) []string { return i.RoleAttributes }),
		"each identity may use exactly the routers it names")

	assert.Equal(t, map[string][]string{
		// gamma is bound through the default routers; alpha, pinned to
		// node-a, dials it from there.
		"ztedge.service-edge-routers":         {"edgex.gamma"},
		"ztedge.service-edge-routers.@node-a": {"edgex.alpha", "edgex.gamma"},
		// alpha is dialled by beta (on #node-b) and laptop (on #public).
		"ztedge.service-edge-routers.#node-b": {"edgex.alpha", "edgex.beta"},
		"ztedge.service-edge-routers.#public": {"edgex.alpha"},
	}, selected(t, d.serviceRouters, func(p serviceRouterPolicySpec) []string { return p.ServiceRoles },
		d.services, func(s serviceSpec) []string { return s.RoleAttributes }),
		"a service is reachable through its own routers and its dialers', and no others")
}

func TestZitiDesiredWithoutPinsKeepsOnePolicyOfEachKind(t *testing.T) {
	top := parseValid(t)
	top.Ziti.EdgeRouterRoles = []string{"#edge"}
	top.Routers = []Router{{Name: "r1", Advertise: "10.0.0.1", Port: 3022}}
	d := testZitiSide(top).desired()
	require.Len(t, d.routerPolicies, 1)
	assert.Equal(t, edgeRouterPolicyName, d.routerPolicies[0].Name)
	assert.Equal(t, []string{"#edge"}, d.routerPolicies[0].Spec.EdgeRouterRoles)
	require.Len(t, d.serviceRouters, 1)
	assert.Equal(t, map[string][]string{serviceRouterPolicyNam: {"edgex.core-data", "edgex.core-metadata", "edgex.device-virtual"}},
		selected(t, d.serviceRouters, func(p serviceRouterPolicySpec) []string { return p.ServiceRoles },
			d.services, func(s serviceSpec) []string { return s.RoleAttributes }))
}

func TestRouterTokenProblem(t *testing.T) {
	out := t.TempDir()
	now := time.Now()
	later := now.Add(time.Hour)
	soon := now.Add(time.Minute)
	assert.Equal(t, tokenMissing, tokenProblem(out, "r", "jwt-1", &later, now))
	require.NoError(t, os.MkdirAll(filepath.Join(out, "routers"), 0o700))
	require.NoError(t, os.WriteFile(credentials.RouterTokenPath(out, "r"), []byte("jwt-1\n"), 0o600))
	assert.Empty(t, tokenProblem(out, "r", "jwt-1", &later, now))
	assert.Equal(t, tokenOutdated, tokenProblem(out, "r", "jwt-2", &later, now))
	assert.Equal(t, tokenExpired, tokenProblem(out, "r", "jwt-1", &soon, now), "too close to expiry to be copied and used")
	assert.Equal(t, tokenExpired, tokenProblem(out, "r", "", nil, now))
}

func TestZitiPlanRouters(t *testing.T) {
	z := testZitiSide(parsePinned(t))
	d := z.desired()
	existing := &zitiState{
		signers: copyAsExisting(d.signers), authPolicies: copyAsExisting(d.authPolicies), configs: copyAsExisting(d.configs),
		identities: copyAsExisting(d.identities), services: copyAsExisting(d.services), routers: copyAsExisting(d.routers),
		servicePolicies: copyAsExisting(d.servicePolicies), routerPolicies: copyAsExisting(d.routerPolicies),
		serviceRouters: copyAsExisting(d.serviceRouters),
	}
	changes, err := z.planAgainst(d, existing)
	require.NoError(t, err)
	assert.Empty(t, changes, "converged")

	existing.routers[0].Spec.TokenProblem = tokenMissing
	existing.routers = append(existing.routers,
		zitiObject[routerSpec]{Name: "old-node", ID: "id-old", Managed: true},
		zitiObject[routerSpec]{Name: "hub-router", ID: "id-hub", Spec: routerSpec{RoleAttributes: []string{"public"}}})
	existing.routerPolicies = append(existing.routerPolicies, zitiObject[routerPolicySpec]{Name: "ztedge.edge-routers.@old-node", ID: "p", Managed: true})
	changes, err = z.planAgainst(d, existing)
	require.NoError(t, err)
	var lines []string
	for _, c := range changes {
		lines = append(lines, strings.TrimSpace(c.String()))
	}
	assert.Equal(t, []string{
		"update ziti edge-router node-a (enrolment token file missing)",
		"delete ziti edge-router-policy ztedge.edge-routers.@old-node",
		"delete ziti edge-router old-node",
	}, lines, "routers ztedge did not make are left alone; a router is deleted after the policies naming it")
}

func TestZitiDesiredRouterConflictsWithForeignRouter(t *testing.T) {
	z := testZitiSide(parsePinned(t))
	_, err := z.planAgainst(z.desired(), &zitiState{routers: []zitiObject[routerSpec]{{Name: "node-a", ID: "x"}}})
	assert.ErrorContains(t, err, `ziti edge-router "node-a" already exists and was not created by ztedge`)
}

func TestRoleNamesAreKeptApartByKind(t *testing.T) {
	// A tunneler-enabled router, its identity and its system edge-router
	// policy share one ID on the controller.
	z := testZitiSide(parsePinned(t))
	z.remember(routerKind{}.kind(), "node-a", "X1")
	z.remember(identityKind{}.kind(), "node-a", "X1")
	z.remember(routerPolicyKind{}.kind(), "edge-router-X1-system", "X1")
	assert.Equal(t, []string{"@node-a"}, z.roleNames(routerKind{}.kind(), []string{"@X1"}))
	assert.Equal(t, []string{"@Y2"}, z.roleNames(routerKind{}.kind(), []string{"@Y2"}), "an ID ztedge does not know stays as written")
}
