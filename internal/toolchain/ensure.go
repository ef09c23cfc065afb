package toolchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/internal/filelock"
)

// Build settings needed for the pinned tools (see the tools modules): the
// checksum database refuses some of their modules, and VCS stamping fails on
// module-cache sources.
const (
	noSumDBPatterns = "github.com/openziti,github.com/michaelquigley,github.com/hashicorp"
	extraGoFlags    = "-buildvcs=false"
)

// heartbeatEvery is how often a "still compiling" line is printed.
var heartbeatEvery = 30 * time.Second

// checkTimeout bounds the run of a tool's CheckArgs command.
const checkTimeout = 60 * time.Second

// stamp is the content of the file written beside a built binary.
type stamp struct {
	Tool    string    `json:"tool"`
	Package string    `json:"package"`
	Version string    `json:"version"`
	Hash    string    `json:"hash"`
	Built   time.Time `json:"built"`
	// Adopted is true when the binary was not built by Ensure but found in
	// place and verified to run.
	Adopted bool `json:"adopted,omitempty"`
}

// Paths holds the locations of all pinned tool binaries.
type Paths struct {
	// Ziti is the path of the ziti binary.
	Ziti string
	// Vault is the path of the vault binary.
	Vault string
}

// EnsureAll makes sure every pinned tool is built and returns their paths.
func EnsureAll(ctx context.Context, progress io.Writer) (Paths, error) {
	var p Paths
	var err error
	if p.Ziti, err = Ensure(ctx, Ziti, progress); err != nil {
		return Paths{}, err
	}
	if p.Vault, err = Ensure(ctx, Vault, progress); err != nil {
		return Paths{}, err
	}
	return p, nil
}

// Ensure returns the path of the tool's binary, building it first if needed.
//
// The binary is reused when a stamp beside it records the same hash of the
// tool module's go.mod and go.sum as the checkout has. A binary without a
// stamp (for example one built by hand into the cache path) is adopted, and
// a stamp written, if running it with the tool's CheckArgs succeeds.
// Otherwise Ensure runs "go mod download" and "go build" in the tool module
// and installs the result atomically. A lock file serialises concurrent
// calls, so the tool is built at most once. progress may be nil.
func Ensure(ctx context.Context, t Tool, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	bin, err := t.BinaryPath()
	if err != nil {
		return "", err
	}
	modDir, err := t.moduleDir()
	if err != nil {
		return "", fmt.Errorf("%s: %w", t, err)
	}
	hash, err := moduleHash(t, modDir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", t, err)
	}

	// Fast path without the lock: a matching stamp means nothing to do.
	if stampMatches(bin, hash) {
		fmt.Fprintf(progress, "[tools] %s: already built at %s\n", t, bin)
		return bin, nil
	}

	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("%s: create cache directory: %w", t, err)
	}
	unlock, err := filelock.Lock(ctx, filepath.Join(filepath.Dir(bin), ".lock"), func() {
		fmt.Fprintf(progress, "[tools] %s: waiting for another build of it to finish…\n", t)
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", t, err)
	}
	defer unlock()

	// Someone else may have finished the build while we waited.
	if stampMatches(bin, hash) {
		fmt.Fprintf(progress, "[tools] %s: already built at %s\n", t, bin)
		return bin, nil
	}

	if _, err := os.Stat(bin); err == nil && !stampExists(bin) {
		// A binary without a stamp: adopt it if it runs.
		if checkErr := runCheck(ctx, t, bin); checkErr == nil {
			if err := writeStamp(bin, stamp{Tool: t.Name, Package: t.Package, Version: t.Version,
				Hash: hash, Built: time.Now().UTC(), Adopted: true}); err != nil {
				return "", fmt.Errorf("%s: %w", t, err)
			}
			fmt.Fprintf(progress, "[tools] %s: verified existing binary, ready at %s\n", t, bin)
			return bin, nil
		} else if ctx.Err() != nil {
			return "", ctx.Err()
		} else {
			fmt.Fprintf(progress, "[tools] %s: existing binary at %s does not run (%v); rebuilding\n", t, bin, checkErr)
		}
	}

	if err := build(ctx, t, modDir, bin, progress); err != nil {
		return "", err
	}
	if err := writeStamp(bin, stamp{Tool: t.Name, Package: t.Package, Version: t.Version,
		Hash: hash, Built: time.Now().UTC()}); err != nil {
		return "", fmt.Errorf("%s: %w", t, err)
	}
	fmt.Fprintf(progress, "[tools] %s: ready at %s\n", t, bin)
	return bin, nil
}

// moduleHash hashes what pins the tool: its package path and the module's
// go.mod and go.sum (a missing go.sum counts as empty).
func moduleHash(t Tool, modDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "package %s\n", t.Package)
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(modDir, name))
		if err != nil && !(name == "go.sum" && errors.Is(err, os.ErrNotExist)) {
			return "", fmt.Errorf("read tool module file: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func stampPath(bin string) string { return bin + ".stamp" }

func stampExists(bin string) bool {
	_, err := os.Stat(stampPath(bin))
	return err == nil
}

// stampMatches reports whether bin exists and its stamp records hash.
func stampMatches(bin, hash string) bool {
	fi, err := os.Stat(bin)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return false
	}
	data, err := os.ReadFile(stampPath(bin))
	if err != nil {
		return false
	}
	var s stamp
	if json.Unmarshal(data, &s) != nil {
		return false
	}
	return s.Hash == hash
}

func writeStamp(bin string, s stamp) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := stampPath(bin) + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	if err := os.Rename(tmp, stampPath(bin)); err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	return nil
}

// runCheck runs the tool's cheap check command and reports whether it exits 0.
func runCheck(ctx context.Context, t Tool, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, t.CheckArgs...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w%s", filepath.Base(bin), strings.Join(t.CheckArgs, " "), err, indentTail(out, 5))
	}
	return nil
}

// build downloads the tool module's dependencies and compiles the tool into
// a temporary file beside bin, then renames it into place.
func build(ctx context.Context, t Tool, modDir, bin string, progress io.Writer) error {
	fmt.Fprintf(progress, "[tools] %s: downloading modules…\n", t)
	dlStart := time.Now()
	dlBeat := func() {
		fmt.Fprintf(progress, "[tools] %s: still downloading modules (%s elapsed)…\n", t, time.Since(dlStart).Round(time.Second))
	}
	if out, err := runGo(ctx, modDir, dlBeat, "mod", "download"); err != nil {
		return fmt.Errorf("%s: go mod download in %s failed: %w%s", t, modDir, err, indentTail(out, 20))
	}

	tmp, err := os.CreateTemp(filepath.Dir(bin), "."+t.Name+".build-*")
	if err != nil {
		return fmt.Errorf("%s: create temporary output: %w", t, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // no-op once renamed

	fmt.Fprintf(progress, "[tools] %s: compiling (%s)…\n", t, t.BuildEstimate)
	start := time.Now()
	beat := func() {
		fmt.Fprintf(progress, "[tools] %s: still compiling (%s elapsed)…\n", t, time.Since(start).Round(time.Second))
	}
	out, err := runGo(ctx, modDir, beat, "build", "-o", tmpName, t.Package)
	if err != nil {
		return fmt.Errorf("%s: go build %s in %s failed after %s: %w%s", t, t.Package, modDir,
			time.Since(start).Round(time.Second), err, indentTail(out, 20))
	}
	if err := os.Chmod(tmpName, 0o755); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if err := os.Rename(tmpName, bin); err != nil {
		return fmt.Errorf("%s: install binary: %w", t, err)
	}
	fmt.Fprintf(progress, "[tools] %s: compiled in %s\n", t, time.Since(start).Round(time.Second))
	return nil
}

// runGo runs the go command in dir with the build environment for pinned
// tools, calling beat every heartbeatEvery while it runs, and returns its
// combined output.
func runGo(ctx context.Context, dir string, beat func(), args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = buildEnv(os.Environ())
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Own process group, so cancelling also stops the compiler processes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start go: %w (is Go installed and on PATH?)", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var tick <-chan time.Time
	if beat != nil {
		ticker := time.NewTicker(heartbeatEvery)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() != nil {
				return out.Bytes(), ctx.Err()
			}
			return out.Bytes(), err
		case <-tick:
			beat()
		}
	}
}

// buildEnv returns env with the settings the pinned tool builds need added:
// GONOSUMDB patterns, -buildvcs=false in GOFLAGS, and GOWORK=off so that a
// go.work file around the checkout cannot interfere.
func buildEnv(env []string) []string {
	get := func(key string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
				return v
			}
		}
		return ""
	}
	nosum := noSumDBPatterns
	if v := get("GONOSUMDB"); v != "" {
		nosum = v + "," + noSumDBPatterns
	}
	goflags := extraGoFlags
	if v := get("GOFLAGS"); v != "" {
		if strings.Contains(v, "-buildvcs") {
			goflags = v
		} else {
			goflags = v + " " + extraGoFlags
		}
	}
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "GONOSUMDB" || k == "GOFLAGS" || k == "GOWORK" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GONOSUMDB="+nosum, "GOFLAGS="+goflags, "GOWORK=off")
}

// indentTail formats the last n lines of out for an error message.
func indentTail(out []byte, n int) string {
	text := strings.TrimRight(string(out), "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}
