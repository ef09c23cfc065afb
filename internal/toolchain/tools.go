// Package toolchain builds and caches the pinned third-party binaries that the
// local stack needs (the OpenZiti "ziti" binary and HashiCorp Vault).
//
// Each tool is pinned by a small Go module under tools/<name> in this
// repository (a go.mod with a "tool" directive). The binary is compiled from
// that module into a per-user cache directory, and a stamp file beside it
// records a hash of the module's go.mod and go.sum, so the (slow) build only
// happens again when the pin changes.
package toolchain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Tool describes one pinned tool: what to build and where it comes from.
type Tool struct {
	// Name is the short name, also the name of the binary ("ziti").
	Name string
	// Package is the Go package path of the main package to build.
	Package string
	// Version is the pinned module version, used in the cache path and in
	// messages (the binaries themselves may not report it).
	Version string
	// ModuleDir is the tool module's directory, relative to the repository root.
	ModuleDir string
	// CheckArgs are the arguments of a cheap command that must exit 0 for a
	// binary to count as working (used to adopt a binary without a stamp).
	CheckArgs []string
	// BuildEstimate is a human hint of how long the first build takes.
	BuildEstimate string
}

// Ziti is the pinned OpenZiti binary (controller, router, CLI and tunneler).
var Ziti = Tool{
	Name:          "ziti",
	Package:       "github.com/openziti/ziti/ziti",
	Version:       "v1.6.0",
	ModuleDir:     "tools/ziti",
	CheckArgs:     []string{"--help"},
	BuildEstimate: "about 5 minutes on 2 cores",
}

// Vault is the pinned HashiCorp Vault binary, used as a local dev server.
var Vault = Tool{
	Name:          "vault",
	Package:       "github.com/hashicorp/vault",
	Version:       "v1.21.0",
	ModuleDir:     "tools/vault",
	CheckArgs:     []string{"version"},
	BuildEstimate: "about 7 minutes on 2 cores",
}

// All returns every pinned tool, in build order.
func All() []Tool {
	return []Tool{Ziti, Vault}
}

// Lookup returns the pinned tool with the given name.
func Lookup(name string) (Tool, error) {
	for _, t := range All() {
		if t.Name == name {
			return t, nil
		}
	}
	return Tool{}, fmt.Errorf("unknown tool %q (known tools: ziti, vault)", name)
}

// String returns "name version", as used in progress lines.
func (t Tool) String() string {
	return t.Name + " " + t.Version
}

// Environment variables that change where tools are cached and built from.
const (
	// EnvToolsDir overrides the cache directory for built tools.
	EnvToolsDir = "ZTEDGE_TOOLS_DIR"
	// EnvSourceDir overrides the repository root that holds tools/<name>/go.mod.
	EnvSourceDir = "ZTEDGE_SOURCE_DIR"
)

// CacheDir returns the directory that holds built tools: $ZTEDGE_TOOLS_DIR,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/ztedge/tools.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvToolsDir); d != "" {
		return filepath.Abs(d)
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot locate the tools cache: set %s or HOME: %w", EnvToolsDir, err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "ztedge", "tools"), nil
}

// BinaryPath returns where the tool's binary lives in the cache:
// <cache>/<name>-<version>/<name>. The file may not exist yet.
func (t Tool) BinaryPath() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, t.Name+"-"+t.Version, t.Name), nil
}

// SourceDir returns the repository root that contains the tool modules:
// $ZTEDGE_SOURCE_DIR if set, else the nearest directory at or above the
// working directory that contains tools/ziti/go.mod.
func SourceDir() (string, error) {
	if d := os.Getenv(EnvSourceDir); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot locate the ztedge source tree: %w", err)
	}
	return findRoot(wd, Ziti.ModuleDir)
}

// findRoot walks up from dir to the first directory containing
// <moduleDir>/go.mod.
func findRoot(dir, moduleDir string) (string, error) {
	start := dir
	for {
		if _, err := os.Stat(filepath.Join(dir, moduleDir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find %s/go.mod in %s or any parent directory: run from inside the ztedge checkout or set %s to it",
				moduleDir, start, EnvSourceDir)
		}
		dir = parent
	}
}

// moduleDir returns the absolute directory of the tool's pinning module.
func (t Tool) moduleDir() (string, error) {
	if os.Getenv(EnvSourceDir) != "" {
		root, err := SourceDir()
		if err != nil {
			return "", err
		}
		return checkModuleDir(filepath.Join(root, t.ModuleDir))
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot locate the ztedge source tree: %w", err)
	}
	root, err := findRoot(wd, t.ModuleDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, t.ModuleDir), nil
}

func checkModuleDir(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("tool module %s has no go.mod (is %s the ztedge checkout?)", dir, EnvSourceDir)
		}
		return "", fmt.Errorf("tool module %s: %w", dir, err)
	}
	return dir, nil
}
