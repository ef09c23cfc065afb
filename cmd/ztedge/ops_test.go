package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpsUsageErrors(t *testing.T) {
	t.Setenv("ZTEDGE_TOPOLOGY", "")
	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "core-data"},              // no topology
		{"doctor", "-o", "yaml", "a"},        // bad output
		{"doctor", "-c", "x.yaml", "a", "b"}, // with -c, the peer only
		{"doctor", "-f", "t.yaml", "a", "b", "c"},
		{"status"},
		{"status", "-f", "t.yaml", "-o", "xml"},
		{"provision", "graph"},
		{"provision", "graph", "-f", "t.yaml", "-format", "png"},
	} {
		code, _, stderr := runCLI(t, args...)
		assert.Equal(t, 2, code, "ztedge %q: %s", args, stderr)
		assert.Contains(t, stderr, "usage:", "ztedge %q", args)
	}
}

func TestGraphOfTheExampleNeedsNoStack(t *testing.T) {
	for _, v := range []string{"ZTEDGE_VAULT_ADDR", "ZTEDGE_OUTPUT", "ZTEDGE_ZITI_CONTROLLER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	code, out, stderr := runCLI(t, "provision", "graph", "-f", "../../examples/topology.yaml")
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(out, "flowchart LR\n"))
	assert.Contains(t, out, "  n_device_virtual --> n_core_data\n")
	doc, err := os.ReadFile("../../docs/topology-graph.md")
	require.NoError(t, err)
	assert.Contains(t, string(doc), out, "docs/topology-graph.md shows what the command prints")

	code, out, _ = runCLI(t, "provision", "graph", "-f", "../../examples/topology.yaml", "-format", "dot")
	require.Equal(t, 0, code)
	assert.Contains(t, out, `"operator" -> "core-data" [tooltip="dial[4]"];`)
}

func TestGraphSVGUsesGraphviz(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	code, _, stderr := runCLI(t, "provision", "graph", "-f", "../../examples/topology.yaml", "-format", "svg")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "apt-get install graphviz")

	// A stand-in for dot that proves the DOT text reaches it on stdin.
	fake := "#!/bin/sh\n[ \"$1\" = -Tsvg ] || exit 3\nprintf '<svg>'\nwhile IFS= read -r line; do case \"$line\" in *'->'*) printf 'e';; esac; done\nprintf '</svg>\\n'\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "dot"), []byte(fake), 0o755))
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("/bin/sh is needed: %v", err)
	}
	file := filepath.Join(t.TempDir(), "g.svg")
	code, _, stderr = runCLI(t, "provision", "graph", "-f", "../../examples/topology.yaml", "-format", "svg", "-out", file)
	require.Equal(t, 0, code, stderr)
	svg, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "<svg>"+strings.Repeat("e", 11)+"</svg>\n", string(svg), "one arrow per permitted dial reached dot")
}

// Errors of a subcommand name it, as "ztedge: provision graph: ...".
func TestSubcommandErrorsNameTheSubcommand(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "x.mmd")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"provision", "graph", "-f", "../../examples/topology.yaml", "-out", missing}, 1,
			"ztedge: provision graph: open " + missing + ": no such file or directory\n"},
		{[]string{"tools", "build", "-tool", "nope"}, 2, `ztedge: tools build: unknown tool "nope"`},
	} {
		code, _, stderr := runCLI(t, c.args...)
		assert.Equal(t, c.code, code, "ztedge %q: %s", c.args, stderr)
		assert.True(t, strings.HasPrefix(stderr, c.want), "ztedge %q: %q", c.args, stderr)
	}
}
