package provisioning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byName finds the object named name.
func byName[S any](t *testing.T, objs []zitiObject[S], name string) S {
	t.Helper()
	for _, o := range objs {
		if o.Name == name {
			return o.Spec
		}
	}
	require.Failf(t, "missing object", "no object %q", name)
	var zero S
	return zero
}

func hasObject[S any](objs []zitiObject[S], name string) bool {
	for _, o := range objs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func testZitiSide(top *Topology) *zitiSide {
	z := newZitiSideWith(nil, top, nil)
	z.issuer, z.jwksURL = "http://vault/v1/identity/oidc", "http://vault/v1/identity/oidc/.well-known/keys"
	return z
}

func TestZitiDesiredObjects(t *testing.T) {
	d := testZitiSide(parseValid(t)).desired()

	signer := byName(t, d.signers, SignerName)
	assert.Equal(t, "http://vault/v1/identity/oidc", signer.Issuer)
	assert.Equal(t, "edgex", signer.Audience)
	assert.Equal(t, "name", signer.ClaimsProperty)
	assert.True(t, signer.UseExternalID)

	ap := byName(t, d.authPolicies, AuthPolicyName)
	assert.Equal(t, []string{SignerName}, ap.AllowedSigners)
	assert.False(t, ap.CertAllowed, "services authenticate only with Vault JWTs")
	assert.False(t, ap.UpdbAllowed)

	id := byName(t, d.identities, "core-data")
	assert.Equal(t, "core-data", id.ExternalID)
	assert.Equal(t, AuthPolicyName, id.AuthPolicy)
	assert.Equal(t, []string{"core", "ztedge.group.core", "ztedge.routers"}, id.RoleAttributes,
		"the group, ztedge's attribute for it, and the attribute of the default routers' policy")
	assert.False(t, byName(t, d.identities, "operator").ExternalJWT, "a client is enrolled")

	assert.JSONEq(t, `{"addresses":["device-virtual.edgex.ziti"],"portRanges":[{"high":59900,"low":59900}],"protocols":["tcp"]}`,
		byName(t, d.configs, "ztedge.intercept.device-virtual").Data)
	assert.Equal(t, []string{"ztedge.intercept.core-data"}, byName(t, d.services, "edgex.core-data").Configs)

	bind := byName(t, d.servicePolicies, "ztedge.bind.core-data")
	assert.Equal(t, "Bind", bind.Type)
	assert.Equal(t, []string{"@core-data"}, bind.IdentityRoles)
	assert.Equal(t, []string{"@edgex.core-data"}, bind.ServiceRoles)

	var dials []servicePolicySpec
	for _, p := range d.servicePolicies {
		if p.Spec.Type == "Dial" {
			assert.True(t, strings.HasPrefix(p.Name, dialPolicyPrefix), p.Name)
			dials = append(dials, p.Spec)
		}
	}
	assert.ElementsMatch(t, []servicePolicySpec{
		{Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"#ztedge.group.devices"}, ServiceRoles: []string{"@edgex.core-data", "@edgex.core-metadata"}},
		{Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"@core-data"}, ServiceRoles: []string{"@edgex.core-metadata"}},
		{Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"#ztedge.group.admins"}, ServiceRoles: []string{"#ztedge.group.core"}},
	}, dials, "one Dial policy per rule, groups by ztedge's attribute")

	// The router policies select every identity and service by one
	// attribute: a policy that names a fleet one by one costs the
	// controller the length of its list at every delete.
	erp := byName(t, d.routerPolicies, edgeRouterPolicyName)
	assert.Equal(t, []string{"#ztedge.routers"}, erp.IdentityRoles)
	assert.Equal(t, []string{"#all"}, erp.EdgeRouterRoles)
	for _, i := range d.identities {
		assert.Contains(t, i.Spec.RoleAttributes, "ztedge.routers", i.Name)
	}
	serp := byName(t, d.serviceRouters, serviceRouterPolicyNam)
	assert.Equal(t, []string{"#ztedge.routers"}, serp.ServiceRoles)
	for _, s := range d.services {
		assert.Contains(t, s.Spec.RoleAttributes, "ztedge.routers", s.Name)
	}
}

func TestZitiPlanDeleteOrder(t *testing.T) {
	z := testZitiSide(parseValid(t))
	existing := &zitiState{
		configs: []zitiObject[configSpec]{{Name: "gone.intercept", ID: "4", Managed: true}},
		servicePolicies: []zitiObject[servicePolicySpec]{
			{Name: "ztedge.bind.gone", ID: "2", Managed: true, Spec: servicePolicySpec{Type: "Bind"}},
			{Name: "ztedge.dial.gone", ID: "5", Managed: true, Spec: servicePolicySpec{Type: "Dial"}},
		},
		identities: []zitiObject[identitySpec]{{Name: "gone", ID: "1", Managed: true}},
		services:   []zitiObject[serviceSpec]{{Name: "edgex.gone", ID: "3", Managed: true}},
	}
	changes, err := z.planAgainst(&zitiState{signers: z.desired().signers}, existing)
	require.NoError(t, err)
	var order []string
	for _, c := range changes {
		order = append(order, string(c.Op)+" "+c.Name)
	}
	// A policy is evaluated against every identity and service when it is
	// deleted. A Dial policy goes first: it removes its dial links in one
	// transaction. The entities next (the controller drops them from the
	// policies that name them), so the Bind policy covers nothing when it
	// goes.
	assert.Equal(t, []string{"create " + changes[0].Name, "delete ztedge.dial.gone", "delete gone", "delete edgex.gone",
		"delete ztedge.bind.gone", "delete gone.intercept"}, order)
	p := &Plan{Changes: changes}
	assert.Len(t, p.stages(), 6, "creates, then one stage per deleted kind, Dial policies in a stage of their own")
}

func TestEveryZitiKindHasADeleteStage(t *testing.T) {
	for _, k := range []string{signerKind{}.kind(), authPolicyKind{}.kind(), configKind{}.kind(), identityKind{}.kind(),
		serviceKind{}.kind(), routerKind{}.kind(), servicePolicyKind{}.kind(), routerPolicyKind{}.kind(), serviceRouterPolicyKind{}.kind()} {
		assert.NotPanics(t, func() { zitiDeleteStage(k) }, k)
	}
}

// copyAsExisting turns desired objects into managed existing ones.
func copyAsExisting[S any](objs []zitiObject[S]) []zitiObject[S] {
	out := make([]zitiObject[S], len(objs))
	for i, o := range objs {
		o.ID, o.Managed = "id-"+o.Name, true
		out[i] = o
	}
	return out
}

func TestZitiPlanRefreshesPoliciesOfRecreatedIdentities(t *testing.T) {
	top := parseValid(t)
	top.Dial = append(top.Dial, DialRule{From: []string{"operator"}, To: []string{"device-virtual"}})
	z := testZitiSide(top)
	d := z.desired()
	existing := &zitiState{
		signers: copyAsExisting(d.signers), authPolicies: copyAsExisting(d.authPolicies), configs: copyAsExisting(d.configs),
		identities: copyAsExisting(d.identities), services: copyAsExisting(d.services),
		servicePolicies: copyAsExisting(d.servicePolicies), routerPolicies: copyAsExisting(d.routerPolicies),
		serviceRouters: copyAsExisting(d.serviceRouters),
	}
	// The operator's identity file is gone: it is re-created, with a new ID.
	for i, e := range existing.identities {
		if e.Name == "operator" {
			existing.identities[i].Spec.IdentityFile = false
		}
	}
	changes, err := z.planAgainst(d, existing)
	require.NoError(t, err)
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	require.NotEmpty(t, lines)
	assert.Equal(t, []string{
		"update ziti identity operator (identity file missing)",
		"update ziti service-policy " + top.DialPolicyName(len(top.Dial)-1) + " (identityRoles: operator is re-created)",
	}, lines, "the policy naming it by ID follows it; the others select it by attribute")
}

func TestDialRulesAreStableAndDeduplicated(t *testing.T) {
	top := parseValid(t)
	a := dialRules(top)
	top.Dial = append([]DialRule{top.Dial[2], top.Dial[0], top.Dial[1]}, top.Dial[0])
	b := dialRules(top)
	assert.ElementsMatch(t, a, b, "reordering or repeating rules changes nothing")
	top.Dial = append(top.Dial, DialRule{From: []string{"group:admins", "group:admins"}, To: []string{"group:core"}})
	assert.Len(t, dialRules(top), 3, "an entry named twice in a rule changes nothing")
	require.Len(t, b, 3)
	assert.Equal(t, "ztedge.dial.group-admins.to.group-core.", b[0].name[:len(b[0].name)-8])
}

func TestZitiServiceWithAnIdentityFile(t *testing.T) {
	top := parseValid(t)
	top.Services[0].Auth = AuthIdentity
	require.NoError(t, top.Validate())
	id := byName(t, testZitiSide(top).desired().identities, "core-data")
	assert.False(t, id.ExternalJWT, "enrolled, not through the signer")
	assert.Empty(t, id.ExternalID)
	assert.True(t, id.IdentityFile, "its identity file is written like a client's")
	assert.True(t, recreatesIdentity(id, byName(t, testZitiSide(parseValid(t)).desired().identities, "core-data")),
		"switching between JWT and certificate re-creates the identity")

	top.Services[0].Auth = "password"
	assert.ErrorContains(t, top.Validate(), `services[0].auth: "password" is not "jwt" or "identity"`)
}
