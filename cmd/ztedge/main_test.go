package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ztedge/ztedge/internal/stacktest"
)

// cliEnv makes this test binary run the ztedge command line instead of
// the tests, so tests can start "ztedge tunnel" as a process of its own
// without building the command first.
const cliEnv = "ZTEDGE_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		main() // exits
	}
	code := m.Run()
	stacktest.StopShared()
	os.Exit(code)
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"stack"},
		{"stack", "sideways"},
		{"tools"},
		{"tools", "build", "-tool", "consul"},
		{"stack", "up", "-no-such-flag"},
		{"stack", "status", "extra"},
		{"provision", "plan", "-f", "t.yaml", "extra"},
		{"provision", "destroy", "-f", "a.yaml", "b.yaml"},
		{"doctor", "-f", "t.yaml", "core-data", "-o", "json"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("ztedge %q: exit %d (err %v), want 2", args, code, err)
		}
		if !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("ztedge %q: no usage on stderr:\n%s", args, stderr.String())
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"stack", "up", "-h"}, {"tools", "build", "-h"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 0 {
			t.Errorf("ztedge %q: exit %d (err %v), want 0", args, code, err)
		}
	}
}

func TestRuntimeErrorsExitOne(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// No stack in an empty state dir: status reports it and fails.
	err := run(t.Context(), []string{"stack", "status", "-state-dir", t.TempDir()}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Fatalf("status of a missing stack: exit %d (err %v), want 1", code, err)
	}
	if !strings.HasPrefix(stderr.String(), "ztedge: ") {
		t.Errorf("error not prefixed with \"ztedge: \": %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), "not up") {
		t.Errorf("status should say the stack is not up: %q", stdout.String())
	}
}
