package provisioning

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withDependencies is pinnedYAML with node-a's tunneler on, redis hosted
// by it, and Vault on the overlay through the hub's router (not one of
// the topology's).
func withDependencies(t *testing.T) *Topology {
	t.Helper()
	y := strings.Replace(pinnedYAML, "    advertise: 198.18.0.2\n", "    advertise: 198.18.0.2\n    tunneler: true\n", 1)
	y = strings.Replace(y, "  address: http://198.18.0.1:8200\n", "  address: https://vault.example:8200\n  overlay:\n    router: hub-router\n", 1)
	y += `dependencies:
  - name: redis
    router: node-a
    port: 6379
    dialers: [beta, laptop]
`
	top, err := Parse([]byte(y))
	require.NoError(t, err)
	require.NoError(t, top.Validate())
	return top
}

func TestDependencyDefaults(t *testing.T) {
	top := withDependencies(t)
	d := top.Dependencies[0]
	assert.Equal(t, "127.0.0.1", d.Address)
	assert.Equal(t, "redis.edgex.ziti", d.Host)
	assert.Equal(t, &VaultOverlay{Router: "hub-router", Address: "vault.example", Port: 8200}, top.Vault.Overlay,
		"Vault's overlay address is vault.address's host and port")
}

func TestZitiDesiredDependencies(t *testing.T) {
	z := testZitiSide(withDependencies(t))
	z.remember(anyRouterKind, "hub-router", "hub-id")
	d := z.desired()
	require.Empty(t, z.hostedErrs)

	host := byName(t, d.configs, "ztedge.host.redis")
	assert.Equal(t, hostConfigType, host.Type)
	assert.JSONEq(t, `{"protocol":"tcp","address":"127.0.0.1","port":6379}`, host.Data)
	assert.JSONEq(t, `{"addresses":["redis.edgex.ziti"],"portRanges":[{"high":6379,"low":6379}],"protocols":["tcp"]}`,
		byName(t, d.configs, "ztedge.intercept.redis").Data)
	assert.Equal(t, serviceSpec{Configs: []string{"ztedge.host.redis", "ztedge.intercept.redis"}, EncryptionRequired: true},
		byName(t, d.services, "edgex.redis"))
	assert.Equal(t, servicePolicySpec{Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@node-a"}, ServiceRoles: []string{"@edgex.redis"}},
		byName(t, d.servicePolicies, "ztedge.bind.redis"), "the router's tunneler identity hosts it")
	assert.Equal(t, servicePolicySpec{Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"@beta", "@laptop"}, ServiceRoles: []string{"@edgex.redis"}},
		byName(t, d.servicePolicies, "ztedge.dial.redis"))
	assert.Equal(t, []string{"#node-b", "#public", "@node-a"}, byName(t, d.serviceRouters, "ztedge.service-edge-routers.host.redis").EdgeRouterRoles,
		"the hosting router and the dialers' routers")

	vaultHost := byName(t, d.configs, "ztedge.host.ztedge.vault")
	assert.JSONEq(t, `{"protocol":"tcp","address":"vault.example","port":8200}`, vaultHost.Data)
	assert.Equal(t, []string{"ztedge.host.ztedge.vault"}, byName(t, d.services, VaultZitiService).Configs, "no intercept: dialled by name")
	assert.Equal(t, []string{"@hub-router"}, byName(t, d.servicePolicies, "ztedge.bind.ztedge.vault").IdentityRoles)
	assert.Equal(t, []string{"#ztedge.vault.dialers"}, byName(t, d.servicePolicies, "ztedge.dial.ztedge.vault").IdentityRoles,
		"selected by attribute")
	var dialers []string
	for _, id := range d.identities {
		if slices.Contains(id.Spec.RoleAttributes, "ztedge.vault.dialers") {
			dialers = append(dialers, id.Name)
		}
	}
	assert.Equal(t, []string{"alpha", "beta", "gamma"}, dialers, "every service of the topology, and no client")
	assert.Equal(t, []string{"#all", "#node-b", "@hub-id", "@node-a"}, byName(t, d.serviceRouters, "ztedge.service-edge-routers.host.ztedge.vault").EdgeRouterRoles,
		"a router ztedge does not manage is named by ID")
}

func TestZitiDependenciesNeedTheHostingRouter(t *testing.T) {
	z := testZitiSide(withDependencies(t))
	z.desired()
	require.Len(t, z.hostedErrs, 1)
	assert.EqualError(t, z.hostedErrs[0], `vault.overlay.router: the controller has no edge router "hub-router"`)
}

func TestZitiDependenciesPlanIsIdempotent(t *testing.T) {
	z := testZitiSide(withDependencies(t))
	z.remember(anyRouterKind, "hub-router", "hub-id")
	d := z.desired()
	existing := &zitiState{
		signers: copyAsExisting(d.signers), authPolicies: copyAsExisting(d.authPolicies), configs: copyAsExisting(d.configs),
		identities: copyAsExisting(d.identities), services: copyAsExisting(d.services), routers: copyAsExisting(d.routers),
		servicePolicies: copyAsExisting(d.servicePolicies), routerPolicies: copyAsExisting(d.routerPolicies),
		serviceRouters: copyAsExisting(d.serviceRouters),
	}
	changes, err := z.planAgainst(d, existing)
	require.NoError(t, err)
	assert.Empty(t, changes)
	changes, err = z.planAgainst(&zitiState{}, existing)
	require.NoError(t, err)
	var deleted []string
	for _, c := range changes {
		deleted = append(deleted, c.Name)
	}
	assert.Subset(t, deleted, []string{"edgex.redis", "ztedge.host.redis", "ztedge.bind.redis", "ztedge.dial.redis",
		"ztedge.vault", "ztedge.host.ztedge.vault", "ztedge.service-edge-routers.host.redis"}, "destroy removes them")
}

func TestZitiBindResolvesANewRoutersIdentityByTheRoutersID(t *testing.T) {
	z := testZitiSide(withDependencies(t))
	z.remember(anyRouterKind, "node-a", "router-id")
	z.remember(identityKind{}.kind(), "beta", "beta-id")
	ids, err := z.identityRoleIDs([]string{"@node-a", "@beta", "#group"})
	require.NoError(t, err)
	assert.Equal(t, []string{"@router-id", "@beta-id", "#group"}, []string(ids))
	_, err = z.identityRoleIDs([]string{"@nobody"})
	assert.Error(t, err)
}

func TestValidateDependencies(t *testing.T) {
	y := strings.Replace(pinnedYAML, "  address: http://198.18.0.1:8200\n", "  address: http://198.18.0.1:8200\n  overlay:\n    router: \"#hub\"\n", 1) + `dependencies:
  - name: redis
    router: node-a
    port: 70000
    address: 0.0.0.0
    dialers: [nobody, group:none]
  - name: alpha
    router: ""
    port: 1
  - name: laptop-db
    router: node-b
    port: 5432
    dialers: [laptop]
`
	top, err := Parse([]byte(y))
	require.NoError(t, err)
	err = top.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.ElementsMatch(t, []string{
		`dependencies[0].router: router "node-a" has no tunneler (set tunneler: true on it)`,
		`dependencies[0].address: "0.0.0.0" is not an address to dial`,
		`dependencies[0].port: 70000 is out of range (1 to 65535)`,
		`dependencies[0].dialers[0]: unknown service or client "nobody"`,
		`dependencies[0].dialers[1]: unknown group "none" (no service or client has it)`,
		`dependencies[1].name: "alpha" is already the name of a service`,
		`dependencies[1].router: missing (the edge router whose tunneler hosts it)`,
		`dependencies[1].dialers: missing (which services or clients may dial it)`,
		`vault.overlay.router: "#hub" is not a router name`,
	}, ve.Problems)
}

func TestGraphShowsDependencies(t *testing.T) {
	g := withDependencies(t).Graph()
	i := slices.IndexFunc(g.Nodes, func(n GraphNode) bool { return n.Name == "redis" })
	require.GreaterOrEqual(t, i, 0, "the dependency is a node")
	assert.Equal(t, GraphNode{Name: "redis", Dependency: true, Router: "node-a"}, g.Nodes[i])
	var toRedis []string
	for _, e := range g.Edges {
		if e.To == "redis" {
			toRedis = append(toRedis, e.From)
			assert.Empty(t, e.Rules, "no dial rule allows a dependency's dialers")
		}
	}
	assert.Equal(t, []string{"beta", "laptop"}, toRedis)
	var dot, mer strings.Builder
	require.NoError(t, g.WriteDOT(&dot))
	require.NoError(t, g.WriteMermaid(&mer))
	assert.Contains(t, dot.String(), `"redis" [shape=cylinder, label="redis (router node-a)"];`,
		"before the services are placed, a dependency names its router instead of sitting in a box of its own")
	assert.NotContains(t, dot.String(), "router node-a\";")
	assert.Contains(t, dot.String(), `"laptop" -> "redis" [tooltip="dependency dialer"];`)
	assert.Contains(t, mer.String(), `n_redis[("redis (router node-a)")]`)
	assert.Contains(t, mer.String(), "n_beta --> n_redis")

	g.Place(map[string]string{"redis": "node-b", "alpha": "node-a"})
	assert.Equal(t, "node-a", g.Nodes[i].Router, "Place does not move a dependency")
	dot.Reset()
	require.NoError(t, g.WriteDOT(&dot))
	assert.Regexp(t, `label="router node-a".*\n\s+"alpha" \[shape=box, style=rounded\];\n\s+"redis" \[shape=cylinder\];`, dot.String(),
		"once placed, the dependency sits in its router's box with the services bound there")
}

func TestLoadDeclarationsChecksDependencies(t *testing.T) {
	file := t.TempDir() + "/t.yaml"
	load := func(deps string) error {
		require.NoError(t, os.WriteFile(file, []byte(pinnedYAML+"dependencies:\n"+deps), 0o600))
		_, err := LoadDeclarations(file)
		return err
	}
	require.NoError(t, load("  - name: redis\n    router: node-b\n    port: ${ZT_UNSET_PORT}\n    dialers: [beta]\n"),
		"a setting reference in the port is not read")
	err := load("  - name: alpha\n    router: node-b\n    port: 6379\n    dialers: [laptpo, \"${ZT_UNSET_CLIENT}\"]\n")
	require.Error(t, err)
	assert.ErrorContains(t, err, `dependencies[0].name: "alpha"`, "a dependency may not take a service's name")
	assert.ErrorContains(t, err, `dependencies[0].dialers[0]: unknown service or client "laptpo"`)
	assert.ErrorContains(t, err, `dependencies[0].dialers[1]`, "a reference in a dialer is reported, not dropped")
}
