package provisioning

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func desiredByName(t *testing.T, top *Topology) map[string]map[string]object {
	t.Helper()
	z := &zitiSide{t: top, issuer: "http://vault/v1/identity/oidc", jwksURL: "http://vault/v1/identity/oidc/.well-known/keys"}
	out := map[string]map[string]object{}
	for kind, objs := range z.desired() {
		out[kind] = map[string]object{}
		for _, o := range objs {
			out[kind][o.Name] = o
		}
	}
	return out
}

func TestZitiDesiredObjects(t *testing.T) {
	top := parseValid(t)
	d := desiredByName(t, top)

	signer := d[kindSigner][SignerName]
	assert.Equal(t, "http://vault/v1/identity/oidc", signer.Fields["issuer"])
	assert.Equal(t, "edgex", signer.Fields["audience"])
	assert.Equal(t, "name", signer.Fields["claimsProperty"])
	assert.Equal(t, "true", signer.Fields["useExternalId"])

	ap := d[kindAuthPolicy][AuthPolicyName]
	assert.Equal(t, SignerName, ap.Fields["primary.extJwt.allowedSigners"])
	assert.Equal(t, "false", ap.Fields["primary.cert.allowed"], "services authenticate only with Vault JWTs")
	assert.Equal(t, "false", ap.Fields["primary.updb.allowed"])

	id := d[kindIdentity]["core-data"]
	assert.Equal(t, "core-data", id.Fields["externalId"])
	assert.Equal(t, AuthPolicyName, id.Fields["authPolicy"])
	assert.Equal(t, "core", id.Fields["roleAttributes"])
	assert.Equal(t, "client", d[kindIdentity]["operator"].Fields["role"])

	assert.JSONEq(t, `{"addresses":["device-virtual.edgex.ziti"],"portRanges":[{"high":59900,"low":59900}],"protocols":["tcp"]}`,
		d[kindConfig]["ztedge.intercept.device-virtual"].Fields["data"])
	assert.Equal(t, "ztedge.intercept.core-data", d[kindService]["edgex.core-data"].Fields["configs"])

	bind := d[kindSvcPolicy]["ztedge.bind.core-data"]
	assert.Equal(t, "Bind", bind.Fields["type"])
	assert.Equal(t, "@core-data", bind.Fields["identityRoles"])
	assert.Equal(t, "@edgex.core-data", bind.Fields["serviceRoles"])

	dial := d[kindSvcPolicy]["ztedge.dial.core-metadata"]
	assert.Equal(t, "Dial", dial.Fields["type"])
	assert.Equal(t, "@core-data,@device-virtual,@operator", dial.Fields["identityRoles"])
	_, undialled := d[kindSvcPolicy]["ztedge.dial.device-virtual"]
	assert.False(t, undialled, "no policy for a service nobody may dial")

	erp := d[kindERP][edgeRouterPolicyName]
	assert.Equal(t, "@core-data,@core-metadata,@device-virtual,@operator", erp.Fields["identityRoles"])
	assert.Equal(t, "#all", erp.Fields["edgeRouterRoles"])
	serp := d[kindSERP][serviceRouterPolicyNam]
	assert.Equal(t, "@edgex.core-data,@edgex.core-metadata,@edgex.device-virtual", serp.Fields["serviceRoles"])
}

func TestZitiPlanOrdersDeletesAfterCreatesInReverse(t *testing.T) {
	top := parseValid(t)
	z := &zitiSide{t: top, ids: map[string]string{}, names: map[string]string{}}
	existing := map[string][]object{
		kindIdentity:  {{Name: "gone", ID: "1", Managed: true, Fields: map[string]string{}}},
		kindSvcPolicy: {{Name: "ztedge.dial.gone", ID: "2", Managed: true, Fields: map[string]string{}}},
	}
	changes, err := z.planAgainst(t.Context(), map[string][]object{kindSigner: z.desired()[kindSigner]}, existing)
	require.NoError(t, err)
	require.Len(t, changes, 3)
	assert.Equal(t, OpCreate, changes[0].Op)
	assert.Equal(t, "ztedge.dial.gone", changes[1].Name, "policies are deleted before the identities they name")
	assert.Equal(t, "gone", changes[2].Name)
}

func TestZitiPlanRefreshesPoliciesOfRecreatedIdentities(t *testing.T) {
	top := parseValid(t)
	z := &zitiSide{t: top, ids: map[string]string{}, names: map[string]string{}}
	desired := z.desired()
	existing := map[string][]object{}
	for kind, objs := range desired {
		for _, o := range objs {
			e := object{Name: o.Name, ID: "id-" + o.Name, Managed: true, Fields: map[string]string{}}
			for k, v := range o.Fields {
				e.Fields[k] = v
			}
			existing[kind] = append(existing[kind], e)
		}
	}
	// The operator's identity file is gone: it is re-created, with a new ID.
	for i, e := range existing[kindIdentity] {
		if e.Name == "operator" {
			existing[kindIdentity][i].Fields["identityFile"] = "missing"
		}
	}
	changes, err := z.planAgainst(t.Context(), desired, existing)
	require.NoError(t, err)
	var names []string
	for _, c := range changes {
		names = append(names, c.String())
	}
	assert.Contains(t, names[0], "update ziti identity operator")
	assert.Contains(t, names, "update ziti service-policy ztedge.dial.core-data (identityRoles (operator is re-created) differ)")
	assert.Contains(t, names, "update ziti edge-router-policy ztedge.edge-routers (identityRoles (operator is re-created) differ)")
	assert.NotContains(t, names, "update ziti service-policy ztedge.bind.core-data (identityRoles (operator is re-created) differ)")
}
