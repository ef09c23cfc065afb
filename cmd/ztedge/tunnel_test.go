package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs a ztedge command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestTunnelCommandLine(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private.json")
	require.NoError(t, os.WriteFile(private, []byte(`{"ztAPI":"http://ctrl:1280","id":{}}`), 0o600))
	open := filepath.Join(dir, "open.json")
	require.NoError(t, os.WriteFile(open, []byte(`{}`), 0o644))
	garbage := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte(`ztAPI: yaml?`), 0o600))

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tunnel", "-h"}, 0, ""},
		{[]string{"tunnel", "core-data=18080"}, 2, "tunnel: -i IDENTITY.json is required"},
		{[]string{"tunnel", "-i", private}, 2, "tunnel: nothing to forward"},
		{[]string{"tunnel", "-i", private, "core-data"}, 2, `tunnel: "core-data": want SERVICE=[ADDRESS:]PORT`},
		{[]string{"tunnel", "-i", private, "-http", "example.com:80"}, 2, `tunnel: -http: address "example.com:80": "example.com" is not an IP address`},
		{[]string{"tunnel", "-i", private, "-dial-timeout", "0s", "core-data=1"}, 2, "-dial-timeout must be positive"},
		{[]string{"tunnel", "-i", private, "-no-such-flag", "core-data=1"}, 2, "flag provided but not defined: -no-such-flag"},
		// Flags after the forwards count too: -i is read, then the address refused.
		{[]string{"tunnel", "core-data=0.0.0.0:18080", "-i", private}, 1,
			"tunnel: 0.0.0.0:18080 is not a loopback address: anyone who can reach it would act as the tunnel's identity"},
		{[]string{"tunnel", "-i", private, "-http", "[::]:18099"}, 1, "tunnel: [::]:18099 is not a loopback address"},
		{[]string{"tunnel", "-i", filepath.Join(dir, "missing.json"), "core-data=0"}, 1, "no such file or directory"},
		{[]string{"tunnel", "-i", open, "core-data=0"}, 1, "has mode 0644: it holds a secret and must not be readable or writable by group or others (run chmod 600 " + open + ")"},
		{[]string{"tunnel", "-i", garbage, "core-data=0"}, 1, "is not an enrolled identity (JSON with ztAPI and id)"},
		{[]string{"tunnel", "-i", private, "core-data=0"}, 1,
			`controller address "http://ctrl:1280" is not an https URL; no id.cert; no id.key; no id.ca (is it an enrolled identity`},
	} {
		code, _, stderr := runCLI(t, c.args...)
		assert.Equal(t, c.code, code, "%q: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, "%q", c.args)
		if c.code == 1 {
			assert.Regexp(t, `^ztedge: tunnel: `, stderr, "%q", c.args)
		}
	}
}
