package doctor_test

// The shared setup of this package's integration tests: one stack, one
// provisioned topology, and helpers that break and restore its links.

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

type provisioningNode = provisioning.GraphNode
