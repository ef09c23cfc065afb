package provisioning

// Integration tests against a real Vault dev server and a real Ziti
// controller and edge router (ziti edge quickstart), started once for the
// package by sharedStack. They never skip: if the stack cannot start, they fail.

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stacktest.StopShared()
	os.Exit(code)
}

// sharedStack returns the real stack, started on first use.
func sharedStack(t testing.TB) *stack.State { return stacktest.Shared(t) }

// exampleTopology loads examples/topology.yaml against the stack, with its
// output in a fresh folder.
func exampleTopology(t *testing.T, st *stack.State) *Topology {
	t.Helper()
	setStackEnv(t, st, t.TempDir())
	top, err := LoadFile("../examples/topology.yaml")
	require.NoError(t, err)
	return top
}

func setStackEnv(t *testing.T, st *stack.State, output string) {
	for k, v := range stacktest.TopologyEnv(st, output) {
		t.Setenv(k, v)
	}
}

func newProvisioner(t *testing.T, top *Topology) *Provisioner {
	t.Helper()
	p, err := New(context.Background(), top, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return p
}

func apply(t *testing.T, p *Provisioner) *Plan {
	t.Helper()
	plan, err := p.Apply(context.Background(), nil)
	require.NoError(t, err)
	return plan
}

func requireNoChanges(t *testing.T, p *Provisioner) {
	t.Helper()
	plan, err := p.Plan(context.Background())
	require.NoError(t, err)
	var b strings.Builder
	_, _ = plan.WriteTo(&b)
	require.True(t, plan.Empty(), "a second plan must be empty, got:\n%s", b.String())
}

// serviceJWT logs in to Vault with the service's provisioned credentials
// file and fetches its identity token.
func serviceJWT(t *testing.T, top *Topology, svc string) string {
	t.Helper()
	creds, err := credentials.Read(credentials.Path(top.Output, svc))
	require.NoError(t, err)
	cfg := vaultapi.DefaultConfig()
	cfg.Address = creds.VaultAddress
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	c.ClearToken()
	login, err := c.Logical().Write("auth/"+creds.AuthMount+"/login", map[string]any{"role_id": creds.RoleID, "secret_id": creds.SecretID})
	require.NoError(t, err)
	c.SetToken(login.Auth.ClientToken)
	tok, err := c.Logical().Read("identity/oidc/token/" + creds.OIDCRole)
	require.NoError(t, err)
	return tok.Data["token"].(string)
}

func caPool(t *testing.T, st *stack.State) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(st.ZitiCAFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	return pool
}

// serviceContext authenticates to the controller as svc with its Vault JWT.
func serviceContext(t *testing.T, st *stack.State, top *Topology, svc string) ziti.Context {
	t.Helper()
	creds := edgeapis.NewJwtCredentials(serviceJWT(t, top, svc))
	creds.CaPool = caPool(t, st)
	zctx, err := ziti.NewContext(&ziti.Config{
		ZtAPI:       st.ControllerURL + "/edge/client/v1",
		Credentials: creds,
		ConfigTypes: []string{"all"},
	})
	require.NoError(t, err)
	t.Cleanup(zctx.Close)
	require.NoError(t, zctx.Authenticate(), "%s's Vault JWT must authenticate through the external JWT signer", svc)
	return zctx
}

// serveEcho serves HTTP on l, answering with the caller's identity.
func serveHTTP(t *testing.T, l net.Listener) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// dialHTTP sends GET / over a Ziti connection to service and returns the body.
func dialHTTP(zctx ziti.Context, service string) (string, error) {
	var conn net.Conn
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err = zctx.Dial(service)
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "no terminators") {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+service+"\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestIntegrationProvisioning(t *testing.T) {
	st := sharedStack(t)
	top := exampleTopology(t, st)
	p := newProvisioner(t, top)
	ctx := context.Background()

	plan, err := p.Plan(ctx)
	require.NoError(t, err)
	assert.Zero(t, plan.Count(OpDelete))
	assert.Zero(t, plan.Count(OpUpdate))
	assert.NotZero(t, plan.Count(OpCreate))

	applied := apply(t, p)
	assert.Equal(t, plan.Summary(), applied.Summary())

	t.Run("re-apply is a no-op", func(t *testing.T) {
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("a lost identity file is re-enrolled in one apply", func(t *testing.T) {
		file := credentials.IdentityPath(top.Output, "operator")
		old, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, os.Remove(file))
		plan := apply(t, newProvisioner(t, top))
		assert.Equal(t, 0, plan.Count(OpCreate)+plan.Count(OpDelete))
		requireNoChanges(t, newProvisioner(t, top))
		_, err = os.Stat(file)
		require.NoError(t, err)

		// The file of the identity before it was enrolled again: the
		// controller would refuse its certificate, so it is re-enrolled.
		require.NoError(t, os.WriteFile(file, old, 0o600))
		plan, err = newProvisioner(t, top).Plan(context.Background())
		require.NoError(t, err)
		var b strings.Builder
		_, _ = plan.WriteTo(&b)
		assert.Contains(t, b.String(), "identity file holds another certificate", "a stale identity file counts as converged")
		apply(t, newProvisioner(t, top))
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("files are private", func(t *testing.T) {
		for _, path := range []string{credentials.Path(top.Output, "core-data"), credentials.IdentityPath(top.Output, "operator")} {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), path)
			di, err := os.Stat(filepath.Dir(path))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), filepath.Dir(path))
		}
	})

	coreData := serviceContext(t, st, top, "core-data")
	device := serviceContext(t, st, top, "device-virtual")
	metadata := serviceContext(t, st, top, "core-metadata")

	l, err := coreData.Listen(ZitiServiceName("core-data"))
	require.NoError(t, err, "core-data may bind its own service")
	t.Cleanup(func() { l.Close() })
	serveHTTP(t, l)

	t.Run("binding another service is refused", func(t *testing.T) {
		// core-data may dial core-metadata, so it sees the service, but it
		// has no Bind policy for it.
		// has no Bind policy for it. The SDK's plain Listen returns a
		// listener that never accepts; waiting for it to be established on
		// a router shows the refusal.
		opts := ziti.DefaultListenOptions()
		opts.WaitForNEstablishedListeners = 1
		opts.ConnectTimeout = 5 * time.Second
		other, err := coreData.ListenWithOptions(ZitiServiceName("core-metadata"), opts)
		if err == nil {
			other.Close()
		}
		require.Error(t, err)
	})

	t.Run("a permitted dial reaches the bound service", func(t *testing.T) {
		body, err := dialHTTP(device, ZitiServiceName("core-data"))
		require.NoError(t, err)
		assert.Contains(t, body, "hello from")
	})

	t.Run("a dial without a rule is refused", func(t *testing.T) {
		_, err := dialHTTP(metadata, ZitiServiceName("core-data"))
		require.Error(t, err, "core-metadata has no rule to dial core-data")
	})

	t.Run("tunneler identity works with ziti tunnel proxy and curl", func(t *testing.T) {
		port := freePort(t)
		cmd := exec.Command(st.ZitiBin, "tunnel", "proxy", fmt.Sprintf("%s:%d", ZitiServiceName("core-data"), port),
			"-i", credentials.IdentityPath(top.Output, "operator"))
		logFile, err := os.Create(filepath.Join(t.TempDir(), "tunnel.log"))
		require.NoError(t, err)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

		var out []byte
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, err = exec.Command("curl", "-sS", "--max-time", "5", fmt.Sprintf("http://127.0.0.1:%d/", port)).CombinedOutput()
			if err == nil && strings.Contains(string(out), "hello from") {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		log, _ := os.ReadFile(logFile.Name())
		require.NoError(t, err, "curl through ziti tunnel proxy failed: %s\ntunnel log:\n%s", out, tail(string(log), 30))
		require.Contains(t, string(out), "hello from", "curl through ziti tunnel proxy\ntunnel log:\n%s", tail(string(log), 30))
	})

	t.Run("a changed file converges", func(t *testing.T) {
		// Drop the app service and the rule that lets devices read metadata.
		changed := *top
		changed.Services = nil
		for _, s := range top.Services {
			if s.Name != "app-rules-engine" {
				changed.Services = append(changed.Services, s)
			}
		}
		changed.Dial = []DialRule{{From: []string{"group:devices"}, To: []string{"core-data"}}}
		for _, r := range top.Dial[1:] {
			if len(r.From) == 1 && r.From[0] == "group:apps" {
				continue
			}
			changed.Dial = append(changed.Dial, r)
		}
		require.NoError(t, changed.Validate())
		cp := newProvisioner(t, &changed)
		plan, err := cp.Plan(ctx)
		require.NoError(t, err)
		var b strings.Builder
		_, _ = plan.WriteTo(&b)
		out := b.String()
		assert.Equal(t, 1, plan.Count(OpCreate), "only the narrowed rule's policy is new: %s", out)
		assert.Contains(t, out, "delete ziti identity app-rules-engine")
		assert.Contains(t, out, "delete ziti service edgex.app-rules-engine")
		assert.Contains(t, out, "create ziti service-policy "+dialRules(&changed)[0].name)
		for _, r := range dialRules(top) {
			if !slices.ContainsFunc(dialRules(&changed), func(c dialRule) bool { return c.name == r.name }) {
				assert.Contains(t, out, "delete ziti service-policy "+r.name, "the rules that changed or went")
			}
		}
		assert.NotContains(t, out, "ztedge.bind.core-data", "nothing else about core-data changes")
		assert.NotContains(t, out, "ziti identity device-virtual")
		apply(t, cp)
		requireNoChanges(t, newProvisioner(t, &changed))
		_, err = os.Stat(credentials.Path(top.Output, "app-rules-engine"))
		assert.ErrorIs(t, err, os.ErrNotExist, "the removed service's credentials are deleted")

		// The device can still reach core-data, but no longer core-metadata.
		ml, err := metadata.Listen(ZitiServiceName("core-metadata"))
		require.NoError(t, err)
		t.Cleanup(func() { ml.Close() })
		serveHTTP(t, ml)
		fresh := serviceContext(t, st, top, "device-virtual")
		_, err = dialHTTP(fresh, ZitiServiceName("core-metadata"))
		require.Error(t, err, "the removed rule no longer lets devices dial core-metadata")
		_, err = dialHTTP(fresh, ZitiServiceName("core-data"))
		require.NoError(t, err)

		// Back to the full topology.
		apply(t, newProvisioner(t, top))
		requireNoChanges(t, newProvisioner(t, top))
	})

	t.Run("destroy removes exactly what ztedge made", func(t *testing.T) {
		// Objects made by hand, in Vault and on the controller.
		vc := vaultClient(t, st)
		_, err := vc.Logical().Write("sys/policies/acl/hand-made", map[string]any{"policy": `path "secret/*" { capabilities = ["read"] }`})
		require.NoError(t, err)
		_, err = vc.Logical().Write("identity/entity", map[string]any{"name": "hand-made"})
		require.NoError(t, err)
		z := p.ziti
		_, err = z.api.Identity.CreateIdentity(&identity.CreateIdentityParams{Context: ctx, Identity: &rest_model.IdentityCreate{
			Name: ptr("hand-made"), IsAdmin: ptr(false), Type: ptr(rest_model.IdentityTypeDefault),
		}}, nil)
		require.NoError(t, err)

		dp := newProvisioner(t, top)
		plan, err := dp.Destroy(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, plan.Count(OpDelete), len(plan.Changes))

		objs, err := dp.ziti.listAll(ctx)
		require.NoError(t, err)
		assert.Empty(t, managedLeft(objs), "managed objects survived destroy")
		assert.Contains(t, names(objs.identities), "hand-made")
		sec, err := vc.Logical().Read("sys/policies/acl/hand-made")
		require.NoError(t, err)
		assert.NotNil(t, sec, "the hand-made Vault policy survives")
		ent, err := vc.Logical().Read("identity/entity/name/hand-made")
		require.NoError(t, err)
		assert.NotNil(t, ent, "the hand-made Vault entity survives")
		ent, err = vc.Logical().Read("identity/entity/name/core-data")
		require.NoError(t, err)
		assert.Nil(t, ent, "ztedge's entities are gone")
		_, err = os.Stat(credentials.IdentityPath(top.Output, "operator"))
		assert.ErrorIs(t, err, os.ErrNotExist)

		dp2 := newProvisioner(t, top)
		again, err := dp2.DestroyPlan(ctx)
		require.NoError(t, err)
		assert.True(t, again.Empty(), "a second destroy has nothing to do")
	})
}

func TestIntegrationClearErrors(t *testing.T) {
	st := sharedStack(t)
	top := exampleTopology(t, st)
	ctx := context.Background()

	t.Run("wrong vault token", func(t *testing.T) {
		bad := *top
		bad.Vault.TokenFile = filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(bad.Vault.TokenFile, []byte("not-a-token"), 0o600))
		_, err := New(ctx, &bad, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "rejected the token")
	})
	t.Run("vault unreachable", func(t *testing.T) {
		bad := *top
		bad.Vault.Address = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		_, err := New(ctx, &bad, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unreachable")
	})
	t.Run("wrong ziti password", func(t *testing.T) {
		bad := *top
		bad.Ziti.PasswordFile = filepath.Join(t.TempDir(), "pw")
		require.NoError(t, os.WriteFile(bad.Ziti.PasswordFile, []byte("wrong"), 0o600))
		_, err := New(ctx, &bad, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "logging in to the Ziti controller")
	})
	t.Run("controller unreachable", func(t *testing.T) {
		bad := *top
		bad.Ziti.Controller = fmt.Sprintf("https://127.0.0.1:%d", freePort(t))
		_, err := New(ctx, &bad, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "127.0.0.1")
	})
}

func vaultClient(t *testing.T, st *stack.State) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = st.VaultAddress
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	tok, err := st.VaultToken()
	require.NoError(t, err)
	c.SetToken(tok)
	return c
}

func names[S any](objs []zitiObject[S]) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}

// managedLeft names the managed objects of s.
func managedLeft(s *zitiState) []string {
	var out []string
	add := func(kind string, names []string, managed []bool) {
		for i, n := range names {
			if managed[i] {
				out = append(out, kind+" "+n)
			}
		}
	}
	add("signer", names(s.signers), flags(s.signers))
	add("auth-policy", names(s.authPolicies), flags(s.authPolicies))
	add("config", names(s.configs), flags(s.configs))
	add("identity", names(s.identities), flags(s.identities))
	add("service", names(s.services), flags(s.services))
	add("edge-router", names(s.routers), flags(s.routers))
	add("service-policy", names(s.servicePolicies), flags(s.servicePolicies))
	add("edge-router-policy", names(s.routerPolicies), flags(s.routerPolicies))
	add("service-edge-router-policy", names(s.serviceRouters), flags(s.serviceRouters))
	return out
}

func flags[S any](objs []zitiObject[S]) []bool {
	out := make([]bool, len(objs))
	for i, o := range objs {
		out[i] = o.Managed
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
