//go:build linux

package multihost_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/multihost"
	"github.com/ztedge/ztedge/internal/testhosts"
)

// Redis, the dependency of TestIntegrationDeployment: on node-a's
// loopback only, reached from node-b through "ztedge forward" as beta.
const (
	redisPort        = 6379
	redisForwardPort = 16379
)

// startRedis starts a real redis-server on h, bound to its loopback only.
func startRedis(t *testing.T, h *testhosts.Host) *testhosts.Process {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "redis-server must be installed (scripts/test installs the Debian package)")
	p := start(t, h, "redis", bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(redisPort),
		"--save", "", "--appendonly", "no", "--dir", h.Dir)
	waitLog(t, p, "Ready to accept connections", time.Minute)
	return p
}

// redisCLI runs redis-cli on h against 127.0.0.1:port and returns its
// trimmed output.
func redisCLI(h *testhosts.Host, port int, args ...string) (string, error) {
	bin, err := exec.LookPath("redis-cli")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Run(ctx, bin, append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(port)}, args...)...)
	return strings.TrimSpace(out), err
}

// checkDependency checks the dependency of the deployment: redis-cli on
// node-b talks, through "ztedge forward" running as beta, to the Redis on
// node-a's loopback, which no other host reaches directly.
func checkDependency(t *testing.T, ztedge string, n *testhosts.Network, nodeA, nodeB *testhosts.Host, betaConfig string) {
	t.Run("redis-cli on node-b reaches redis on node-a's loopback through ztedge forward as beta", func(t *testing.T) {
		fwd := start(t, nodeB, "forward-redis", ztedge, "forward", "-config", betaConfig, fmt.Sprintf("redis=%d", redisForwardPort))
		waitLog(t, fwd, "Listening on loopback only", 2*time.Minute)
		var out string
		var err error
		// The tunneler on node-a binds the service shortly after the
		// policies exist: retry the first command.
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			if out, err = redisCLI(nodeB, redisForwardPort, "SET", "ztedge", "over-the-overlay"); err == nil && out == "OK" {
				break
			}
			t.Logf("redis-cli SET (retrying): %q %v", out, err)
		}
		require.Equal(t, "OK", out, "redis-cli SET through the forward; %s", fwd.LogTail(20))
		got, err := redisCLI(nodeB, redisForwardPort, "GET", "ztedge")
		require.NoError(t, err)
		assert.Equal(t, "over-the-overlay", got)
		local, err := redisCLI(nodeA, redisPort, "GET", "ztedge")
		require.NoError(t, err)
		assert.Equal(t, "over-the-overlay", local, "the same server, on node-a's loopback")
		require.NoError(t, fwd.Stop())
	})
	t.Run("no other host reaches node-a's redis port", func(t *testing.T) {
		for _, from := range n.Hosts {
			if from == nodeA {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			c, err := from.Dial(ctx, "tcp", nodeA.Addr(redisPort))
			cancel()
			if c != nil {
				c.Close()
			}
			assert.Error(t, err, "%s connecting to %s", from.Name, nodeA.Addr(redisPort))
		}
	})
}

// jwtLifetime is the deployment's JWT lifetime (jwt.ttl), short so that
// the Vault cut spans several.
const jwtLifetime = 20 * time.Second

// checkVaultOverOverlay cuts both nodes' underlay path to Vault on the
// hub and checks that the services keep renewing their JWTs (over Vault's
// Ziti service, hosted by the hub's router) and keep serving, for more
// than three JWT lifetimes.
func checkVaultOverOverlay(t *testing.T, hub *multihost.Hub, nodeA, nodeB *testhosts.Host, alpha, beta *service) {
	t.Run("with the nodes' underlay path to Vault cut, the services renew their JWTs over Ziti and keep serving", func(t *testing.T) {
		for _, s := range []*service{alpha, beta} {
			waitLog(t, s.p, "reaching vault over the overlay from now on", time.Second)
		}
		waitTerminator(t, hub, "ztedge.vault")
		advice := cli(t, hub, "edge", "policy-advisor", "services", "ztedge.vault")
		for _, id := range []string{"alpha", "beta"} {
			assert.Regexp(t, `OKAY : `+id+` \(\d+\) -> ztedge.vault \(\d+\) .*Dial: Y`, advice, "%s may dial Vault's service", id)
		}
		assert.NotContains(t, advice, "laptop", "a client may not dial Vault's service")
		for _, node := range []*testhosts.Host{nodeA, nodeB} {
			require.NoError(t, hub.Host.BlockFrom(node, multihost.VaultPort))
			t.Cleanup(func() { _ = hub.Host.UnblockFrom(node, multihost.VaultPort) })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := nodeB.Dial(ctx, "tcp", hub.Host.Addr(multihost.VaultPort))
		cancel()
		if c != nil {
			c.Close()
		}
		require.Error(t, err, "node-b must not reach Vault on the network any more")
		marks := map[*service]int64{alpha: logSize(t, alpha), beta: logSize(t, beta)}
		cut := time.Now()
		for i := 0; time.Since(cut) < 3*jwtLifetime+10*time.Second; i++ {
			line := call(t, beta, fmt.Sprintf("cut%d", i), "alpha")
			assert.Contains(t, line, "200 alpha here; you are beta", "%s after the cut", time.Since(cut).Round(time.Second))
			// alpha may not dial beta, but it asks for its JWT first.
			call(t, alpha, fmt.Sprintf("cut%d", i), "beta")
			time.Sleep(3 * time.Second)
		}
		for name, s := range map[string]*service{"alpha": alpha, "beta": beta} {
			since := logSince(t, s, marks[s])
			renewed := strings.Count(since, "renewed the service's JWT")
			t.Logf("%s renewed its JWT %d times in the %s after the cut", name, renewed, time.Since(cut).Round(time.Second))
			assert.GreaterOrEqual(t, renewed, 3, "%s renews its JWT over Ziti", name)
			assert.NotContains(t, since, "cannot reach vault over the overlay", name)
			assert.NotContains(t, since, "renewing the vault login", name)
			assert.NotContains(t, since, "has no valid JWT", name)
		}
		client := hub.Host.HTTPClient()
		for node, port := range map[*testhosts.Host]int{nodeA: alphaHealth, nodeB: betaHealth} {
			assert.Equal(t, http.StatusOK, status(t, client, http.MethodGet, "http://"+node.Addr(port)+"/api/v3/ping?ready"),
				"%s is ready: bound, with a valid JWT", node.Name)
		}
	})
}

// logSize is how many bytes the service has logged so far.
func logSize(t *testing.T, s *service) int64 {
	t.Helper()
	fi, err := os.Stat(s.p.Log)
	require.NoError(t, err)
	return fi.Size()
}

// logSince returns what the service logged after offset.
func logSince(t *testing.T, s *service, offset int64) string {
	t.Helper()
	data, err := os.ReadFile(s.p.Log)
	require.NoError(t, err)
	return string(data[offset:])
}

// waitTerminator waits until a router hosts the Ziti service (its
// tunneler has picked up the Bind policy and made a terminator).
func waitTerminator(t *testing.T, hub *multihost.Hub, service string) {
	t.Helper()
	filter := fmt.Sprintf("service.name=%q", service)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		out := cli(t, hub, "edge", "list", "terminators", filter)
		if !strings.Contains(out, "results: none") && strings.Contains(out, "tunnel") {
			t.Logf("terminators of %s:\n%s", service, out)
			return
		}
	}
	t.Logf("terminators: %s", cli(t, hub, "edge", "list", "terminators"))
	t.Logf("policy advisor: %s", cli(t, hub, "edge", "policy-advisor", "services", service))
	t.Logf("identities: %s", cli(t, hub, "edge", "list", "identities"))
	t.Logf("service policies: %s", cli(t, hub, "edge", "list", "service-policies"))
	t.Logf("service edge router policies: %s", cli(t, hub, "edge", "list", "service-edge-router-policies"))
	require.FailNow(t, "no terminator", "nothing hosts %s", service)
}
