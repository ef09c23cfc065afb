package toolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/filelock"
)

// fakeTool sets up a tiny tool module in a temporary source tree and a
// temporary cache, and returns a Tool that points at it.
func fakeTool(t *testing.T, mainSrc string) (Tool, string) {
	t.Helper()
	src := t.TempDir()
	cache := t.TempDir()
	modDir := filepath.Join(src, "tools", "fake")
	require.NoError(t, os.MkdirAll(modDir, 0o755))
	writeFile(t, filepath.Join(modDir, "go.mod"), "module example.com/fake\n\ngo 1.26\n")
	writeFile(t, filepath.Join(modDir, "main.go"), mainSrc)
	t.Setenv(EnvSourceDir, src)
	t.Setenv(EnvToolsDir, cache)
	tool := Tool{
		Name:          "fake",
		Package:       "example.com/fake",
		Version:       "v0.0.1",
		ModuleDir:     "tools/fake",
		CheckArgs:     []string{"--help"},
		BuildEstimate: "a moment",
	}
	return tool, modDir
}

const fakeMain = `package main

import "fmt"

func main() { fmt.Println("fake tool") }
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestBinaryPathLayout(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvToolsDir, cache)
	got, err := Ziti.BinaryPath()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "ziti-v1.6.0", "ziti"), got, "BinaryPath")
}

func TestCacheDirDefaults(t *testing.T) {
	t.Setenv(EnvToolsDir, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	got, _ := CacheDir()
	require.Equal(t, "/xdg/ztedge/tools", got, "with XDG_CACHE_HOME: CacheDir")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	got, _ = CacheDir()
	require.Equal(t, "/home/someone/.cache/ztedge/tools", got, "with HOME: CacheDir")
}

func TestFindRootWalksUp(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tools", "ziti"), 0o755))
	writeFile(t, filepath.Join(root, "tools", "ziti", "go.mod"), "module x\n")
	deep := filepath.Join(root, "a", "b", "c")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	got, err := findRoot(deep, "tools/ziti")
	require.NoError(t, err, "findRoot")
	require.Equal(t, root, got, "findRoot")
	_, err = findRoot(t.TempDir(), "tools/ziti")
	require.ErrorContains(t, err, EnvSourceDir, "findRoot outside a checkout: want a hint about the variable")
}

func TestEnsureBuildsOnceThenHitsCache(t *testing.T) {
	tool, modDir := fakeTool(t, fakeMain)
	old := heartbeatEvery
	heartbeatEvery = time.Millisecond
	t.Cleanup(func() { heartbeatEvery = old })

	var out bytes.Buffer
	bin, err := Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "first Ensure")
	for _, want := range []string{
		"[tools] fake v0.0.1: downloading modules…",
		"[tools] fake v0.0.1: compiling (a moment)…",
		"[tools] fake v0.0.1: still compiling (",
		"[tools] fake v0.0.1: ready at " + bin,
	} {
		assert.Contains(t, out.String(), want, "progress")
	}
	fi1, err := os.Stat(bin)
	require.NoError(t, err, "binary missing after build")
	require.NotZero(t, fi1.Mode()&0o111, "binary %s is not executable: %v", bin, fi1.Mode())

	out.Reset()
	bin2, err := Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "second Ensure")
	require.Equal(t, bin, bin2, "second Ensure path")
	require.NotContains(t, out.String(), "compiling", "second Ensure should hit the cache")
	require.Contains(t, out.String(), "already built at "+bin, "second Ensure should hit the cache")
	fi2, _ := os.Stat(bin)
	require.True(t, fi2.ModTime().Equal(fi1.ModTime()), "binary was rewritten on a cache hit")

	// Changing the pin (go.mod) invalidates the stamp.
	writeFile(t, filepath.Join(modDir, "go.mod"), "module example.com/fake\n\ngo 1.26\n\n// bumped\n")
	out.Reset()
	_, err = Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure after go.mod change")
	require.Contains(t, out.String(), "compiling", "a changed go.mod should trigger a rebuild")

	// So does a go.sum appearing.
	writeFile(t, filepath.Join(modDir, "go.sum"), "")
	writeFile(t, filepath.Join(modDir, "go.sum"), "example.org/x v1.0.0 h1:AAAA=\n")
	out.Reset()
	_, err = Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure after go.sum change")
	require.Contains(t, out.String(), "compiling", "a changed go.sum should trigger a rebuild")
}

func TestEnsureAdoptsWorkingBinaryWithoutStamp(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, err := tool.BinaryPath()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	// Stands in for a binary built by hand (or by a build still finishing).
	script := "#!/bin/sh\n[ \"$1\" = --help ] && exit 0\nexit 3\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))

	var out bytes.Buffer
	got, err := Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure")
	require.Equal(t, bin, got, "Ensure path")
	require.NotContains(t, out.String(), "compiling", "a working binary without a stamp should be adopted, not rebuilt")
	require.Contains(t, out.String(), "verified existing binary", "progress should say the binary was verified")
	data, err := os.ReadFile(stampPath(bin))
	require.NoError(t, err, "no stamp written after adopting")
	var s stamp
	require.NoError(t, json.Unmarshal(data, &s), "stamp")
	require.True(t, s.Adopted, "stamp %+v: want adopted", s)
	require.NotEmpty(t, s.Hash, "stamp %+v: want a hash", s)
	content, _ := os.ReadFile(bin)
	require.Equal(t, script, string(content), "adopted binary was replaced")

	out.Reset()
	_, err = Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure after adopting")
	require.Contains(t, out.String(), "already built", "after adopting, Ensure should hit the cache")
}

func TestEnsureRebuildsBrokenBinaryWithoutStamp(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	// A truncated, half-written binary.
	require.NoError(t, os.WriteFile(bin, []byte("\x7fELF\x02\x01"), 0o755))
	var out bytes.Buffer
	_, err := Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure")
	require.Contains(t, out.String(), "does not run", "a broken binary without a stamp should be rebuilt")
	require.Contains(t, out.String(), "compiling", "a broken binary without a stamp should be rebuilt")
	got, _ := os.ReadFile(bin)
	require.False(t, bytes.HasPrefix(got, []byte("\x7fELF\x02\x01")) && len(got) < 100, "broken binary was not replaced")
}

func TestEnsureStampMismatchRebuilds(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	require.NoError(t, writeStamp(bin, stamp{Hash: "stale"}))
	var out bytes.Buffer
	_, err := Ensure(t.Context(), tool, &out)
	require.NoError(t, err, "Ensure")
	require.Contains(t, out.String(), "compiling", "a stale stamp should trigger a rebuild, even if the binary runs")
}

func TestEnsureConcurrentCallsBuildOnce(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	const n = 3
	outs := make([]bytes.Buffer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = Ensure(t.Context(), tool, &outs[i]) })
	}
	wg.Wait()
	builds := 0
	for i := range n {
		require.NoError(t, errs[i], "Ensure %d", i)
		builds += strings.Count(outs[i].String(), "compiling (")
	}
	if builds != 1 {
		for i := range n {
			t.Logf("progress %d:\n%s", i, outs[i].String())
		}
	}
	require.Equal(t, 1, builds, "builds for %d concurrent Ensure calls", n)
}

func TestEnsureBuildFailureShowsGoOutput(t *testing.T) {
	tool, _ := fakeTool(t, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := Ensure(t.Context(), tool, nil)
	require.Error(t, err, "Ensure succeeded on a broken tool module")
	for _, want := range []string{"go build example.com/fake", "undefined: undefinedThing"} {
		assert.ErrorContains(t, err, want)
	}
	bin, _ := tool.BinaryPath()
	_, statErr := os.Stat(bin)
	assert.Error(t, statErr, "a failed build left a binary at %s", bin)
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".fake.build-*"))
	assert.Empty(t, leftovers, "a failed build left temporary files")
}

func TestEnsureCancelledWhileWaitingForLock(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	unlock, err := filelock.Lock(t.Context(), filepath.Join(filepath.Dir(bin), ".lock"), nil)
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	_, err = Ensure(ctx, tool, &out)
	require.Error(t, err, "Ensure should fail when its context ends while waiting for the lock")
	assert.Contains(t, out.String(), "waiting for another build", "progress should say it is waiting")
}

func TestBuildEnv(t *testing.T) {
	env := buildEnv([]string{"PATH=/bin", "GOFLAGS=-mod=mod", "GONOSUMDB=example.com", "GOWORK=/x/go.work"})
	joined := strings.Join(env, "\n")
	for _, want := range []string{
		"PATH=/bin",
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GONOSUMDB=example.com," + noSumDBPatterns,
		"GOWORK=off",
	} {
		assert.Contains(t, joined, want, "build env")
	}
	assert.NotContains(t, joined, "/x/go.work", "build env kept the caller's GOWORK")
}

func TestLookup(t *testing.T) {
	tool, err := Lookup("vault")
	require.NoError(t, err, "Lookup(vault)")
	require.Equal(t, "github.com/hashicorp/vault", tool.Package, "Lookup(vault)")
	require.Equal(t, "v1.21.0", tool.Version, "Lookup(vault)")
	_, err = Lookup("consul")
	require.Error(t, err, "Lookup(consul) should fail")
}
