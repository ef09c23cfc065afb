package doctor_test

// Each broken link, produced on the real stack (Vault dev server, Ziti
// controller and edge router), and what the doctor says about it. They
// share one stack and one provisioned topology and never skip.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/external_jwt_signer"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/doctor"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	if shared != nil {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared is the provisioned topology every test of this package uses.
var shared *env

// provisioned starts the shared stack and provisions the tests' topology
// on it, once per test binary.
func provisioned(t *testing.T) *env {
	t.Helper()
	if shared != nil {
		return shared
	}
	st := stacktest.Shared(t)
	dir, err := os.MkdirTemp("", "ztedge-doctor-test-")
	require.NoError(t, err)
	e := &env{st: st, dir: dir, quietLog: slog.New(slog.DiscardHandler)}
	e.topFile = filepath.Join(dir, "topology.yaml")
	require.NoError(t, os.WriteFile(e.topFile, []byte(topologyYAML), 0o600))
	e.top = topotest.ProvisionTo(t, st, e.topFile, filepath.Join(dir, "output"), nil)
	api, err := provisioning.ZitiManagement(e.ctx(t), e.top, e.quietLog)
	require.NoError(t, err)
	e.api = api
	shared = e
	return e
}

// The topology of these tests: svc-a may dial svc-b and svc-c; svc-b runs,
// svc-c is provisioned but never started.
const topologyYAML = `
vault:
  address: ${ZTEDGE_VAULT_ADDR}
  tokenFile: ${ZTEDGE_VAULT_TOKEN_FILE}
ziti:
  controller: ${ZTEDGE_ZITI_CONTROLLER}
  caCert: ${ZTEDGE_ZITI_CA_FILE}
  username: ${ZTEDGE_ZITI_USER}
  passwordFile: ${ZTEDGE_ZITI_PASSWORD_FILE}
jwt:
  ttl: 10m
output: ${ZTEDGE_OUTPUT}
services:
  - name: svc-a
  - name: svc-b
  - name: svc-c
dial:
  - from: [svc-a]
    to: [svc-b, svc-c]
`

type env struct {
	st       *stack.State
	top      *provisioning.Topology
	topFile  string
	api      *mgmt.ZitiEdgeManagement
	dir      string
	quietLog *slog.Logger
}

// ctx is a context for one call, ended with the (sub)test.
func (e *env) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// apply brings the controller and Vault back to top (after a test broke them).
func (e *env) apply(t *testing.T, top *provisioning.Topology) {
	t.Helper()
	p, err := provisioning.New(e.ctx(t), top, e.quietLog)
	require.NoError(t, err)
	_, err = p.Apply(e.ctx(t), nil)
	require.NoError(t, err)
}

// config writes a configuration file for service name and returns its path;
// edit may change its SecurityOptions.
func (e *env) config(t *testing.T, name string, edit func(zerotrust.SecurityOptions)) string {
	t.Helper()
	opts := zerotrust.SecurityOptions{
		zerotrust.KeyMode:         "zerotrust",
		zerotrust.KeyController:   e.st.ControllerURL,
		zerotrust.KeyControllerCA: e.st.ZitiCAFile,
		zerotrust.KeyCredentials:  credentials.Path(e.top.Output, name),
	}
	if edit != nil {
		edit(opts)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Service:\n  Name: %s\n  SecurityOptions:\n", name)
	for k, v := range opts {
		fmt.Fprintf(&b, "    %s: %q\n", k, v)
	}
	file := filepath.Join(t.TempDir(), "configuration.yaml")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o600))
	return file
}

// copyCredentials copies service name's credentials file into a new folder,
// changed by edit, with the given mode.
func (e *env) copyCredentials(t *testing.T, name string, mode os.FileMode, edit func(*credentials.Service)) string {
	t.Helper()
	c, err := credentials.Read(credentials.Path(e.top.Output, name))
	require.NoError(t, err)
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	file := filepath.Join(dir, "credentials.json")
	require.NoError(t, os.WriteFile(file, b, mode))
	require.NoError(t, os.Chmod(file, mode))
	return file
}

func (e *env) run(t *testing.T, o doctor.Options) *doctor.Report {
	t.Helper()
	if o.Topology == nil && o.ConfigFile == "" {
		o.Topology, o.TopologyFile = e.top, e.topFile
	}
	rep := doctor.Run(e.ctx(t), o)
	var b strings.Builder
	_, _ = rep.WriteTo(&b)
	t.Log("\n" + b.String())
	return rep
}

// broken asserts that the chain broke at step, with a detail and a fix
// holding the given texts.
func broken(t *testing.T, rep *doctor.Report, step, detail, fix string) {
	t.Helper()
	f := rep.Failure()
	require.NotNil(t, f, "the doctor found no broken link; want %s", step)
	assert.Equal(t, step, f.Step, "broken link")
	assert.Contains(t, f.Detail, detail)
	assert.Contains(t, f.Fix, fix)
	assert.Same(t, f, &rep.Results[len(rep.Results)-1], "the doctor stops at the first broken link")
	for _, r := range rep.Results[:len(rep.Results)-1] {
		assert.NotEqual(t, doctor.Failed, r.Status, "only the last step may fail")
	}
}

func healthy(t *testing.T, rep *doctor.Report, pair bool) {
	t.Helper()
	require.Nil(t, rep.Failure())
	var steps []string
	for _, r := range rep.Results {
		steps = append(steps, r.Step)
		assert.Equal(t, doctor.OK, r.Status, "%s: %s", r.Step, r.Detail)
	}
	assert.Equal(t, doctor.Steps(pair), steps)
}

func (e *env) signerID(t *testing.T) string {
	f := `name = "` + provisioning.SignerName + `"`
	r, err := e.api.ExternalJWTSigner.ListExternalJWTSigners(&external_jwt_signer.ListExternalJWTSignersParams{Context: e.ctx(t), Filter: &f}, nil)
	require.NoError(t, err)
	require.Len(t, r.Payload.Data, 1)
	return *r.Payload.Data[0].ID
}

func (e *env) identityID(t *testing.T, name string) string {
	f := `name = "` + name + `"`
	r, err := e.api.Identity.ListIdentities(&identity.ListIdentitiesParams{Context: e.ctx(t), Filter: &f}, nil)
	require.NoError(t, err)
	require.Len(t, r.Payload.Data, 1)
	return *r.Payload.Data[0].ID
}

func (e *env) servicePolicyID(t *testing.T, name string) string {
	f := `name = "` + name + `"`
	r, err := e.api.ServicePolicy.ListServicePolicies(&service_policy.ListServicePoliciesParams{Context: e.ctx(t), Filter: &f}, nil)
	require.NoError(t, err)
	require.Len(t, r.Payload.Data, 1)
	return *r.Payload.Data[0].ID
}

// serve runs service name in this process until the test ends.
func (e *env) serve(t *testing.T, name string) {
	t.Helper()
	cfg, err := zerotrust.LoadConfig(e.config(t, name, nil))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: e.quietLog, OnServing: func(net.Addr, net.Addr) { close(ready) }})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- svc.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	}()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("%s stopped: %v", name, err)
	case <-time.After(time.Minute):
		t.Fatalf("%s did not bind", name)
	}
}

// otherCA writes a self-signed CA certificate that signed nothing.
func otherCA(t *testing.T, file string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the controller's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func ptr[T any](v T) *T { return &v }

// hideOtherRouterPolicies narrows the edge-router and service-edge-router
// policies ztedge did not make (the quickstart's "#all" ones) to nobody,
// so that only ztedge's decide which routers may be used, and puts them
// back when the test ends.
func (e *env) hideOtherRouterPolicies(t *testing.T) {
	nobody := rest_model.Roles{"#ztedge-doctor-test-nobody"}
	erps, err := e.api.EdgeRouterPolicy.ListEdgeRouterPolicies(&edge_router_policy.ListEdgeRouterPoliciesParams{Context: e.ctx(t)}, nil)
	require.NoError(t, err)
	for _, p := range erps.Payload.Data {
		if !slices.Contains(p.IdentityRoles, "#all") {
			continue
		}
		id, routers, was := *p.ID, p.EdgeRouterRoles, p.IdentityRoles
		patch := func(roles rest_model.Roles) {
			_, err := e.api.EdgeRouterPolicy.PatchEdgeRouterPolicy(&edge_router_policy.PatchEdgeRouterPolicyParams{Context: e.ctx(t), ID: id,
				Policy: &rest_model.EdgeRouterPolicyPatch{IdentityRoles: roles, EdgeRouterRoles: routers}}, nil)
			require.NoError(t, err)
		}
		patch(nobody)
		t.Cleanup(func() { patch(was) })
	}
	serps, err := e.api.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(&service_edge_router_policy.ListServiceEdgeRouterPoliciesParams{Context: e.ctx(t)}, nil)
	require.NoError(t, err)
	for _, p := range serps.Payload.Data {
		if !slices.Contains(p.ServiceRoles, "#all") {
			continue
		}
		id, routers, was := *p.ID, p.EdgeRouterRoles, p.ServiceRoles
		patch := func(roles rest_model.Roles) {
			_, err := e.api.ServiceEdgeRouterPolicy.PatchServiceEdgeRouterPolicy(&service_edge_router_policy.PatchServiceEdgeRouterPolicyParams{Context: e.ctx(t), ID: id,
				Policy: &rest_model.ServiceEdgeRouterPolicyPatch{ServiceRoles: roles, EdgeRouterRoles: routers}}, nil)
			require.NoError(t, err)
		}
		patch(nobody)
		t.Cleanup(func() { patch(was) })
	}
}

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
		broken(t, rep, "dial", "dial[0] (from [svc-c] to [svc-b]) allows it, but the controller's Dial policy ztedge.dial.svc-b does not", "ztedge provision apply")
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

type provisioningNode = provisioning.GraphNode
