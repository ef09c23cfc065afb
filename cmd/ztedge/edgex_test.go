package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEdgeXUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"edgex"},
		{"edgex", "sideways"},
		{"edgex", "token-file"},
		{"edgex", "token-file", "-credentials", "c.json"},
		{"edgex", "token-file", "-credentials", "c.json", "-o", "t.json", "-interval", "5s"},
		{"edgex", "env", "core-data"},
		{"edgex", "env", "-f", "topology.yaml"},
		{"edgex", "env", "-f", "topology.yaml", "a", "b"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		assert.Equal(t, 2, exitCode(err, &stderr), "ztedge %q: %v", args, err)
	}
}

const edgexTopologyYAML = `
vault:
  address: http://127.0.0.1:8200
ziti:
  controller: https://127.0.0.1:1280
output: out
services:
  - name: core-data
  - name: device-probe
    edgex: true
    secrets: true
dial:
  - from: [device-probe]
    to: [core-data]
`

func TestEdgeXEnvPrintsTheServicesEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	require.NoError(t, os.WriteFile(file, []byte(edgexTopologyYAML), 0o644))
	var stdout, stderr bytes.Buffer
	// The name may come before or after the flags.
	for _, args := range [][]string{{"edgex", "env", "device-probe", "-f", file}, {"edgex", "env", "-f", file, "device-probe"}} {
		stdout.Reset()
		require.NoError(t, run(t.Context(), args, &stdout, &stderr))
		out := stdout.String()
		assert.Contains(t, out, "SECRETSTORE_TOKENFILE="+filepath.Join(dir, "out", "services", "device-probe", "secrets-token.json")+"\n")
		assert.Contains(t, out, "CLIENTS_CORE_DATA_SECURITYOPTIONS_MODE=zerotrust\n")
		assert.Contains(t, out, "SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280\n")
	}
	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"edgex", "env", "-token-mode", "-f", file, "device-probe"}, &stdout, &stderr))
	assert.NotContains(t, stdout.String(), "SECURITYOPTIONS")
	assert.True(t, strings.HasPrefix(stdout.String(), "EDGEX_SECURITY_SECRET_STORE=true\n"))

	err := run(t.Context(), []string{"edgex", "env", "-f", file, "core-data"}, &stdout, &stderr)
	require.ErrorContains(t, err, "not marked edgex: true")
	assert.Equal(t, 1, exitCode(err, &stderr))
}
