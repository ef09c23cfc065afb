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

	"github.com/ztedge/ztedge/internal/filelock"
)

// fakeTool sets up a tiny tool module in a temporary source tree and a
// temporary cache, and returns a Tool that points at it.
func fakeTool(t *testing.T, mainSrc string) (Tool, string) {
	t.Helper()
	src := t.TempDir()
	cache := t.TempDir()
	modDir := filepath.Join(src, "tools", "fake")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		t.Fatal(err)
	}
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
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryPathLayout(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvToolsDir, cache)
	got, err := Ziti.BinaryPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "ziti-v1.6.0", "ziti"); got != want {
		t.Fatalf("BinaryPath = %s, want %s", got, want)
	}
}

func TestCacheDirDefaults(t *testing.T) {
	t.Setenv(EnvToolsDir, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, _ := CacheDir(); got != "/xdg/ztedge/tools" {
		t.Fatalf("with XDG_CACHE_HOME: CacheDir = %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got, _ := CacheDir(); got != "/home/someone/.cache/ztedge/tools" {
		t.Fatalf("with HOME: CacheDir = %s", got)
	}
}

func TestFindRootWalksUp(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "tools", "ziti"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "tools", "ziti", "go.mod"), "module x\n")
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findRoot(deep, "tools/ziti")
	if err != nil || got != root {
		t.Fatalf("findRoot = %q, %v; want %q", got, err, root)
	}
	if _, err := findRoot(t.TempDir(), "tools/ziti"); err == nil || !strings.Contains(err.Error(), EnvSourceDir) {
		t.Fatalf("findRoot outside a checkout: err = %v, want a hint about %s", err, EnvSourceDir)
	}
}

func TestEnsureBuildsOnceThenHitsCache(t *testing.T) {
	tool, modDir := fakeTool(t, fakeMain)
	old := heartbeatEvery
	heartbeatEvery = time.Millisecond
	t.Cleanup(func() { heartbeatEvery = old })

	var out bytes.Buffer
	bin, err := Ensure(t.Context(), tool, &out)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	for _, want := range []string{
		"[tools] fake v0.0.1: downloading modules…",
		"[tools] fake v0.0.1: compiling (a moment)…",
		"[tools] fake v0.0.1: still compiling (",
		"[tools] fake v0.0.1: ready at " + bin,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	fi1, err := os.Stat(bin)
	if err != nil {
		t.Fatalf("binary missing after build: %v", err)
	}
	if fi1.Mode()&0o111 == 0 {
		t.Fatalf("binary %s is not executable: %v", bin, fi1.Mode())
	}

	out.Reset()
	bin2, err := Ensure(t.Context(), tool, &out)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if bin2 != bin {
		t.Fatalf("second Ensure path %s != %s", bin2, bin)
	}
	if strings.Contains(out.String(), "compiling") || !strings.Contains(out.String(), "already built at "+bin) {
		t.Fatalf("second Ensure should hit the cache, progress:\n%s", out.String())
	}
	fi2, _ := os.Stat(bin)
	if !fi2.ModTime().Equal(fi1.ModTime()) {
		t.Fatalf("binary was rewritten on a cache hit")
	}

	// Changing the pin (go.mod) invalidates the stamp.
	writeFile(t, filepath.Join(modDir, "go.mod"), "module example.com/fake\n\ngo 1.26\n\n// bumped\n")
	out.Reset()
	if _, err := Ensure(t.Context(), tool, &out); err != nil {
		t.Fatalf("Ensure after go.mod change: %v", err)
	}
	if !strings.Contains(out.String(), "compiling") {
		t.Fatalf("a changed go.mod should trigger a rebuild, progress:\n%s", out.String())
	}

	// So does a go.sum appearing.
	writeFile(t, filepath.Join(modDir, "go.sum"), "")
	writeFile(t, filepath.Join(modDir, "go.sum"), "example.org/x v1.0.0 h1:AAAA=\n")
	out.Reset()
	if _, err := Ensure(t.Context(), tool, &out); err != nil {
		t.Fatalf("Ensure after go.sum change: %v", err)
	}
	if !strings.Contains(out.String(), "compiling") {
		t.Fatalf("a changed go.sum should trigger a rebuild, progress:\n%s", out.String())
	}
}

func TestEnsureAdoptsWorkingBinaryWithoutStamp(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, err := tool.BinaryPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// Stands in for a binary built by hand (or by a build still finishing).
	script := "#!/bin/sh\n[ \"$1\" = --help ] && exit 0\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	got, err := Ensure(t.Context(), tool, &out)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got != bin {
		t.Fatalf("Ensure path %s != %s", got, bin)
	}
	if strings.Contains(out.String(), "compiling") {
		t.Fatalf("a working binary without a stamp should be adopted, not rebuilt:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "verified existing binary") {
		t.Fatalf("progress should say the binary was verified:\n%s", out.String())
	}
	data, err := os.ReadFile(stampPath(bin))
	if err != nil {
		t.Fatalf("no stamp written after adopting: %v", err)
	}
	var s stamp
	if err := json.Unmarshal(data, &s); err != nil || !s.Adopted || s.Hash == "" {
		t.Fatalf("stamp = %+v (%v), want adopted with a hash", s, err)
	}
	content, _ := os.ReadFile(bin)
	if string(content) != script {
		t.Fatalf("adopted binary was replaced")
	}

	out.Reset()
	if _, err := Ensure(t.Context(), tool, &out); err != nil || !strings.Contains(out.String(), "already built") {
		t.Fatalf("after adopting, Ensure should hit the cache: %v\n%s", err, out.String())
	}
}

func TestEnsureRebuildsBrokenBinaryWithoutStamp(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// A truncated, half-written binary.
	if err := os.WriteFile(bin, []byte("\x7fELF\x02\x01"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Ensure(t.Context(), tool, &out); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !strings.Contains(out.String(), "does not run") || !strings.Contains(out.String(), "compiling") {
		t.Fatalf("a broken binary without a stamp should be rebuilt:\n%s", out.String())
	}
	if got, _ := os.ReadFile(bin); bytes.HasPrefix(got, []byte("\x7fELF\x02\x01")) && len(got) < 100 {
		t.Fatalf("broken binary was not replaced")
	}
}

func TestEnsureStampMismatchRebuilds(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeStamp(bin, stamp{Hash: "stale"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Ensure(t.Context(), tool, &out); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !strings.Contains(out.String(), "compiling") {
		t.Fatalf("a stale stamp should trigger a rebuild, even if the binary runs:\n%s", out.String())
	}
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
		if errs[i] != nil {
			t.Fatalf("Ensure %d: %v", i, errs[i])
		}
		builds += strings.Count(outs[i].String(), "compiling (")
	}
	if builds != 1 {
		for i := range n {
			t.Logf("progress %d:\n%s", i, outs[i].String())
		}
		t.Fatalf("%d builds for %d concurrent Ensure calls, want 1", builds, n)
	}
}

func TestEnsureBuildFailureShowsGoOutput(t *testing.T) {
	tool, _ := fakeTool(t, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := Ensure(t.Context(), tool, nil)
	if err == nil {
		t.Fatal("Ensure succeeded on a broken tool module")
	}
	for _, want := range []string{"go build example.com/fake", "undefined: undefinedThing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	bin, _ := tool.BinaryPath()
	if _, statErr := os.Stat(bin); statErr == nil {
		t.Errorf("a failed build left a binary at %s", bin)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".fake.build-*"))
	if len(leftovers) > 0 {
		t.Errorf("a failed build left temporary files: %v", leftovers)
	}
}

func TestEnsureCancelledWhileWaitingForLock(t *testing.T) {
	tool, _ := fakeTool(t, fakeMain)
	bin, _ := tool.BinaryPath()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := filelock.Lock(t.Context(), filepath.Join(filepath.Dir(bin), ".lock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	_, err = Ensure(ctx, tool, &out)
	if err == nil {
		t.Fatal("Ensure should fail when its context ends while waiting for the lock")
	}
	if !strings.Contains(out.String(), "waiting for another build") {
		t.Errorf("progress should say it is waiting:\n%s", out.String())
	}
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
		if !strings.Contains(joined, want) {
			t.Errorf("build env lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "/x/go.work") {
		t.Errorf("build env kept the caller's GOWORK:\n%s", joined)
	}
}

func TestLookup(t *testing.T) {
	if tool, err := Lookup("vault"); err != nil || tool.Package != "github.com/hashicorp/vault" || tool.Version != "v1.21.0" {
		t.Fatalf("Lookup(vault) = %+v, %v", tool, err)
	}
	if _, err := Lookup("consul"); err == nil {
		t.Fatal("Lookup(consul) should fail")
	}
}
