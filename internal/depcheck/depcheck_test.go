package depcheck

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the committed dependency lists")

const module = "github.com/ztedge/ztedge"

// deps lists the non-standard packages pkg links, sorted.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	require.NoError(t, err, "go list -deps %s", pkg)
	var list []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "vendor/") {
			list = append(list, line)
		}
	}
	slices.Sort(list)
	return list
}

func matching(list []string, prefix string) []string {
	var out []string
	for _, p := range list {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			out = append(out, p)
		}
	}
	return out
}

func TestProxyAuthLinksNoZiti(t *testing.T) {
	d := deps(t, "./cmd/proxy-auth")
	assert.Empty(t, matching(d, "github.com/openziti"), "proxy-auth serves token mode only: it must not link the Ziti SDK")
	assert.Empty(t, matching(d, module+"/zerotrust"), "proxy-auth must not link the runtime")
	assert.Empty(t, matching(d, module+"/provisioning"))
}

func TestRuntimeLinksNoProvisioning(t *testing.T) {
	for _, pkg := range []string{"zerotrust", "listener", "transport", "jwtauth", "caller", "examples/core-data", "examples/device-virtual"} {
		d := deps(t, "./"+pkg)
		assert.Empty(t, matching(d, module+"/provisioning"), "%s must not link the admin code", pkg)
		assert.Empty(t, matching(d, module+"/gateway"), "%s must not link the gateway", pkg)
		assert.Empty(t, matching(d, module+"/internal/stack"), "%s must not link the local stack", pkg)
	}
	for _, leaf := range []string{"caller", "transport", "jwtauth"} {
		d := deps(t, "./"+leaf)
		assert.Empty(t, matching(d, module+"/zerotrust"), "%s is a leaf: it must not import the runtime", leaf)
		assert.Empty(t, matching(d, "github.com/openziti"), "%s must not link Ziti", leaf)
	}
}

// TestDependencyLists compares what the main binaries link with the lists
// committed beside them; run with -update after a deliberate change.
func TestDependencyLists(t *testing.T) {
	for _, pkg := range []string{"cmd/proxy-auth", "zerotrust"} {
		got := deps(t, "./"+pkg)
		file := filepath.Join("..", "..", pkg, "deps.txt")
		if *update {
			require.NoError(t, os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644))
			continue
		}
		b, err := os.ReadFile(file)
		require.NoError(t, err, "run: go test ./internal/depcheck -update")
		want := strings.Fields(string(b))
		var added, removed []string
		for _, p := range got {
			if !slices.Contains(want, p) {
				added = append(added, p)
			}
		}
		for _, p := range want {
			if !slices.Contains(got, p) {
				removed = append(removed, p)
			}
		}
		assert.Empty(t, slices.Concat(added, removed), "%s's dependencies changed (added %v, removed %v); if on purpose, run: go test ./internal/depcheck -update", pkg, added, removed)
	}
}

// maxProxyAuthBytes bounds the proxy-auth binary: token mode links no Ziti
// (44 MB when it did).
const maxProxyAuthBytes = 15 << 20

func TestProxyAuthBinarySize(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "proxy-auth")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/proxy-auth")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/proxy-auth: %s", out)
	fi, err := os.Stat(bin)
	require.NoError(t, err)
	assert.LessOrEqual(t, fi.Size(), int64(maxProxyAuthBytes), "proxy-auth is %d bytes", fi.Size())
}

// TestControllerClientsUseNoEnvironmentProxy guards what the SDK does by
// default: its controller clients take HTTP(S)_PROXY from the environment,
// so JWTs, enrolment tokens and the administrator's password would reach
// whoever runs the proxy. Every controller client must be built with
// ctrlca.NoProxy.
func TestControllerClientsUseNoEnvironmentProxy(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "interop" || d.Name() == "tools" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, banned := range []string{"edgeapis.NewManagementApiClient(", "edgeapis.NewClientApiClient(", "ziti.NewContextFromFile("} {
			assert.NotContains(t, src, banned, "%s: use the WithConfig form with ctrlca.NoProxy", path)
		}
		if strings.Contains(src, "ziti.NewContext(") || strings.Contains(src, "ziti.NewContextWithOpts(") {
			assert.Contains(t, src, "CtrlProxy", "%s: set ziti.Config.CtrlProxy to ctrlca.NoProxy", path)
		}
		if strings.Contains(src, "NewManagementApiClientWithConfig(") || strings.Contains(src, "NewClientApiClientWithConfig(") {
			assert.Contains(t, src, "Proxy: ctrlca.NoProxy", "%s: set ApiClientConfig.Proxy to ctrlca.NoProxy", path)
		}
		return nil
	})
	require.NoError(t, err)
}
