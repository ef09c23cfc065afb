package doctor_test

// Each broken link, produced on the real stack (Vault dev server, Ziti
// controller and edge router), and what the doctor says about it. They
// share one stack and one provisioned topology and never skip.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_management_api_client/external_jwt_signer"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/doctor"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

func TestIntegrationDoctor(t *testing.T) {
	e := provisioned(t)
	e.serve(t, "svc-b")

	t.Run("a running service from its configuration file: every link holds", func(t *testing.T) {
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-b", nil), Topology: e.top, TopologyFile: e.topFile})
		healthy(t, rep, false)
		assert.Contains(t, rep.Result("bound").Detail, "edgex.svc-b is bound on ")
		assert.Contains(t, rep.Result("jwt").Detail, "name=svc-b")
	})
	t.Run("a pair: every link holds and the dial rule is named", func(t *testing.T) {
		rep := e.run(t, doctor.Options{Service: "svc-a", Peer: "svc-b"})
		healthy(t, rep, true)
		assert.Contains(t, rep.Result("dial").Detail, "allowed by dial[0] (from [svc-a] to [svc-b, svc-c])")
	})
	t.Run("an invalid configuration", func(t *testing.T) {
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyMode] = "zerotrsut" })})
		broken(t, rep, "config", `"zerotrsut"`, "docs/runtime.md")
	})
	t.Run("a credentials file others may read", func(t *testing.T) {
		file := e.copyCredentials(t, "svc-a", 0o644, nil)
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyCredentials] = file })})
		broken(t, rep, "credentials", "has mode 0644", "chmod 600 "+file)
	})
	t.Run("a missing credentials file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "credentials.json")
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyCredentials] = file })})
		broken(t, rep, "credentials", "no such file", "ztedge provision apply -f TOPOLOGY.yaml writes it")
	})
	t.Run("another service's credentials", func(t *testing.T) {
		file := credentials.Path(e.top.Output, "svc-b")
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyCredentials] = file })})
		broken(t, rep, "credentials", `holds the credentials of "svc-b", not of "svc-a"`, "svc-a's own credentials file")
	})
	t.Run("Vault unreachable", func(t *testing.T) {
		addr := fmt.Sprintf("http://127.0.0.1:%d", closedPort(t))
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyVaultAddress] = addr })})
		broken(t, rep, "vault", "Vault at "+addr+" is unreachable", "start Vault")
	})
	t.Run("a wrong secret ID", func(t *testing.T) {
		file := e.copyCredentials(t, "svc-a", 0o600, func(c *credentials.Service) { c.SecretID = "00000000-0000-0000-0000-000000000000" })
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyCredentials] = file })})
		broken(t, rep, "vault-login", "vault refused the role ID or secret ID", "it issues a new secret ID")
		assert.NotContains(t, rep.Failure().Detail, "00000000-0000", "the secret never reaches the report")
	})
	t.Run("Vault has no OIDC role for the service", func(t *testing.T) {
		vc, err := provisioning.VaultAdmin(e.ctx(t), e.top)
		require.NoError(t, err)
		_, err = vc.Logical().DeleteWithContext(e.ctx(t), "identity/oidc/role/svc-c")
		require.NoError(t, err)
		defer e.apply(t, e.top)
		rep := e.run(t, doctor.Options{Service: "svc-c"})
		broken(t, rep, "jwt", `identity token of "svc-c"`, "ztedge provision apply -f "+e.topFile)
	})
	t.Run("controller unreachable", func(t *testing.T) {
		ctrl := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyController] = ctrl })})
		broken(t, rep, "controller", "the ziti controller at https://"+ctrl+" is unreachable", "start the controller")
	})
	t.Run("a CA file that does not trust the controller", func(t *testing.T) {
		ca := filepath.Join(t.TempDir(), "ca.pem")
		otherCA(t, ca)
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) { o[zerotrust.KeyControllerCA] = ca })})
		broken(t, rep, "controller", "presents a certificate "+ca+" does not trust", "OpenZitiCAFile")
	})
	t.Run("a pinned CA the controller no longer matches", func(t *testing.T) {
		file := e.copyCredentials(t, "svc-a", 0o600, nil)
		pin := filepath.Join(filepath.Dir(file), zerotrust.PinFileName)
		otherCA(t, pin)
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) {
			o[zerotrust.KeyCredentials] = file
			delete(o, zerotrust.KeyControllerCA)
		})})
		broken(t, rep, "controller", "not trusted by the pinned CA bundle", "delete "+pin)
	})
	t.Run("no pin yet: the doctor pins nothing", func(t *testing.T) {
		t.Setenv("ZITI_USER", "")
		file := e.copyCredentials(t, "svc-a", 0o600, nil)
		rep := e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", func(o zerotrust.SecurityOptions) {
			o[zerotrust.KeyCredentials] = file
			delete(o, zerotrust.KeyControllerCA)
		})})
		assert.Equal(t, doctor.Skipped, rep.Result("admin").Status, "no topology and no ZITI_USER: the controller-side checks are skipped")
		assert.Equal(t, doctor.OK, rep.Result("authenticate").Status, rep.Result("authenticate").Detail)
		assert.Contains(t, rep.Result("controller").Detail, "not pinned yet")
		assert.NoFileExists(t, filepath.Join(filepath.Dir(file), zerotrust.PinFileName))
	})
	t.Run("a wrong administrator password", func(t *testing.T) {
		top := *e.top
		top.Ziti.PasswordFile = filepath.Join(t.TempDir(), "password")
		require.NoError(t, os.WriteFile(top.Ziti.PasswordFile, []byte("wrong"), 0o600))
		rep := e.run(t, doctor.Options{Service: "svc-a", Topology: &top, TopologyFile: e.topFile})
		broken(t, rep, "admin", "logging in to the Ziti controller", "ziti.passwordFile")
	})
	t.Run("a signer that expects another audience", func(t *testing.T) {
		_, err := e.api.ExternalJWTSigner.PatchExternalJWTSigner(&external_jwt_signer.PatchExternalJWTSignerParams{Context: e.ctx(t),
			ID: e.signerID(t), ExternalJWTSigner: &rest_model.ExternalJWTSignerPatch{Audience: ptr("not-edgex")}}, nil)
		require.NoError(t, err)
		defer e.apply(t, e.top)
		rep := e.run(t, doctor.Options{Service: "svc-a"})
		broken(t, rep, "signer", `does not hold the audience "not-edgex" of the external JWT signer "ztedge-vault"`, "ztedge provision apply -f "+e.topFile)
	})
	t.Run("a disabled identity", func(t *testing.T) {
		id := e.identityID(t, "svc-a")
		_, err := e.api.Identity.DisableIdentity(&identity.DisableIdentityParams{Context: e.ctx(t), ID: id,
			Disable: &rest_model.DisableParams{DurationMinutes: ptr(int64(0))}}, nil)
		require.NoError(t, err)
		defer func() {
			_, err := e.api.Identity.EnableIdentity(&identity.EnableIdentityParams{Context: e.ctx(t), ID: id}, nil)
			require.NoError(t, err)
		}()
		rep := e.run(t, doctor.Options{Service: "svc-a"})
		broken(t, rep, "identity", `identity "svc-a" is disabled`, "enable it")
		// Without an administrator, the runtime's own start says it.
		t.Setenv("ZITI_USER", "")
		rep = e.run(t, doctor.Options{ConfigFile: e.config(t, "svc-a", nil)})
		broken(t, rep, "authenticate", "authenticating to the ziti controller", "-f")
	})
	t.Run("no Bind policy", func(t *testing.T) {
		_, err := e.api.ServicePolicy.DeleteServicePolicy(&service_policy.DeleteServicePolicyParams{Context: e.ctx(t), ID: e.servicePolicyID(t, "ztedge.bind.svc-c")}, nil)
		require.NoError(t, err)
		defer e.apply(t, e.top)
		rep := e.run(t, doctor.Options{Service: "svc-c"})
		broken(t, rep, "bind-policy", `identity "svc-c" may not bind "edgex.svc-c"`, "ztedge.bind.<name>")
	})
	t.Run("a service that is not running", func(t *testing.T) {
		rep := e.run(t, doctor.Options{Service: "svc-c"})
		broken(t, rep, "bound", "edgex.svc-c is not bound on any edge router: svc-c is not running", "start the service")
	})
	t.Run("a peer that is not running", func(t *testing.T) {
		rep := e.run(t, doctor.Options{Service: "svc-a", Peer: "svc-c"})
		broken(t, rep, "peer-bound", "edgex.svc-c is not bound", "start svc-c")
	})
	t.Run("no dial rule", func(t *testing.T) {
		rep := e.run(t, doctor.Options{Service: "svc-c", Peer: "svc-b"})
		broken(t, rep, "dial", "svc-c may not dial svc-b: no dial rule of "+e.topFile+" allows it", "- {from: [svc-c], to: [svc-b]}")
	})
	t.Run("a dial rule not applied yet", func(t *testing.T) {
		top := *e.top
		top.Dial = append([]provisioning.DialRule{{From: []string{"svc-c"}, To: []string{"svc-b"}}}, top.Dial...)
		rep := e.run(t, doctor.Options{Service: "svc-c", Peer: "svc-b", Topology: &top, TopologyFile: e.topFile})
		broken(t, rep, "dial", "dial[0] (from [svc-c] to [svc-b]) allows it, but the controller's Dial policy "+top.DialPolicyName(0)+" does not", "ztedge provision apply")
	})
	t.Run("the only edge router the service may use is offline, then none", func(t *testing.T) {
		r, err := e.api.EdgeRouter.CreateEdgeRouter(&edge_router.CreateEdgeRouterParams{Context: e.ctx(t),
			EdgeRouter: &rest_model.EdgeRouterCreate{Name: ptr("doctor-never-enrolled")}}, nil)
		require.NoError(t, err)
		routerID := r.Payload.Data.ID
		defer func() {
			e.apply(t, e.top)
			_, err := e.api.EdgeRouter.DeleteEdgeRouter(&edge_router.DeleteEdgeRouterParams{Context: e.ctx(t), ID: routerID}, nil)
			assert.NoError(t, err)
		}()
		e.hideOtherRouterPolicies(t)
		top := *e.top
		top.Ziti.EdgeRouterRoles = []string{"@" + routerID}
		e.apply(t, &top)
		rep := e.run(t, doctor.Options{Service: "svc-c"})
		broken(t, rep, "router", "are all offline: doctor-never-enrolled", "edgeRouterRoles")

		top.Ziti.EdgeRouterRoles = []string{"#no-router-has-this"}
		e.apply(t, &top)
		rep = e.run(t, doctor.Options{Service: "svc-c"})
		broken(t, rep, "router", `identity "svc-c" may use no edge router`, "edgeRouterRoles")
	})
}
