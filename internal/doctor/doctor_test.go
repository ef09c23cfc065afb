package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/provisioning"
)

// The first links are checked without any server: bad options and
// configurations stop the chain before anything is contacted.

func writeFile(t *testing.T, name, text string, mode os.FileMode) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(file, []byte(text), mode))
	require.NoError(t, os.Chmod(file, mode))
	return file
}

func TestNothingToCheck(t *testing.T) {
	rep := Run(context.Background(), Options{})
	f := rep.Failure()
	require.NotNil(t, f)
	assert.Equal(t, "config", f.Step)
	assert.Contains(t, f.Fix, "-c")
	assert.Equal(t, len(Steps(false))-1, rep.NotRun)
}

func TestConfigurationProblems(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, detail, fix string }{
		"unknown mode": {"Service:\n  Name: a\n  SecurityOptions:\n    Mode: zerotrsut\n", `"zerotrsut"`, "docs/runtime.md"},
		"plain mode":   {"Service:\n  Name: a\n  Port: 8080\n  SecurityOptions:\n    RequireJWT: \"false\"\n", "the doctor checks services in zerotrust mode", "SERVICE_SECURITYOPTIONS_MODE"},
		"no controller": {"Service:\n  Name: a\n  SecurityOptions:\n    Mode: zerotrust\n    VaultCredentialsFile: /x\n",
			"OpenZitiController", "docs/runtime.md"},
	} {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, "c.yaml", tc.yaml, 0o600)
			rep := Run(context.Background(), Options{ConfigFile: file})
			f := rep.Failure()
			require.NotNil(t, f)
			assert.Equal(t, "config", f.Step)
			assert.NotContains(t, f.Title, "of  is", "the title names no subject")
			assert.Contains(t, f.Detail, tc.detail)
			assert.Contains(t, f.Fix, tc.fix)
		})
	}
}

func TestServiceNotInTopology(t *testing.T) {
	top, err := provisioning.Parse([]byte("vault: {address: http://127.0.0.1:1}\nziti: {controller: 127.0.0.1:2}\noutput: /tmp/o\nservices: [{name: core-data}]\n"))
	require.NoError(t, err)
	rep := Run(context.Background(), Options{Topology: top, TopologyFile: "t.yaml", Service: "core-dta"})
	f := rep.Failure()
	require.NotNil(t, f)
	assert.Equal(t, "config", f.Step)
	assert.Equal(t, `t.yaml declares no service "core-dta" (services: core-data)`, f.Detail)

	rep = Run(context.Background(), Options{Topology: top, TopologyFile: "t.yaml", Service: "core-data", Peer: "nobody"})
	assert.Contains(t, rep.Failure().Detail, `t.yaml declares no service "nobody" to dial`)
}

func TestCredentialsFileProblems(t *testing.T) {
	cfg := func(creds string) string {
		return writeFile(t, "c.yaml", "Service:\n  Name: core-data\n  SecurityOptions:\n    Mode: zerotrust\n    OpenZitiController: 127.0.0.1:1\n    VaultCredentialsFile: "+creds+"\n", 0o600)
	}
	good := `{"service":"core-data","vaultAddress":"http://127.0.0.1:1","authMount":"m","roleId":"r","secretId":"s3cr3t","oidcRole":"core-data","audience":"edgex"}`
	open := writeFile(t, "credentials.json", good, 0o644)
	rep := Run(context.Background(), Options{ConfigFile: cfg(open)})
	f := rep.Failure()
	require.NotNil(t, f)
	assert.Equal(t, "credentials", f.Step)
	assert.Contains(t, f.Detail, "has mode 0644")
	assert.Equal(t, "chmod 600 "+open+" (and chmod 700 its folder); give each service only its own file", f.Fix)

	other := writeFile(t, "credentials.json", strings.Replace(good, `"service":"core-data"`, `"service":"core-metadata"`, 1), 0o600)
	f = Run(context.Background(), Options{ConfigFile: cfg(other)}).Failure()
	require.NotNil(t, f)
	assert.Contains(t, f.Detail, `holds the credentials of "core-metadata", not of "core-data"`)

	missing := filepath.Join(t.TempDir(), "credentials.json")
	f = Run(context.Background(), Options{ConfigFile: cfg(missing), TopologyFile: "topo.yaml"}).Failure()
	require.NotNil(t, f)
	assert.Contains(t, f.Fix, "ztedge provision apply -f topo.yaml writes it")

	// Vault on a closed port: the chain breaks at Vault, and the secret
	// never reaches the report.
	ok := writeFile(t, "credentials.json", good, 0o600)
	rep = Run(context.Background(), Options{ConfigFile: cfg(ok)})
	f = rep.Failure()
	require.NotNil(t, f)
	assert.Equal(t, "vault", f.Step)
	assert.Contains(t, f.Detail, "Vault at http://127.0.0.1:1 is unreachable")
	var b strings.Builder
	_, _ = rep.WriteTo(&b)
	assert.NotContains(t, b.String(), "s3cr3t")
	assert.NotContains(t, b.String(), "?", "no query string in the report")
	assert.Contains(t, b.String(), "  FAIL  vault        Vault is reachable\n")
	assert.Contains(t, b.String(), "Broken link: vault. 10 later checks not run.\n")
}

func TestStepsAreNamedOnce(t *testing.T) {
	for _, pair := range []bool{false, true} {
		seen := map[string]bool{}
		for _, s := range Steps(pair) {
			assert.False(t, seen[s], "step %s twice", s)
			seen[s] = true
		}
	}
	assert.Equal(t, "dial", Steps(true)[len(Steps(true))-1])
	assert.Equal(t, "bound", Steps(false)[len(Steps(false))-1])
	for _, s := range append(serviceChain, pairChain...) {
		assert.NotEmpty(t, s.fix, "every step has a fix hint: %s", s.name)
		assert.NotEmpty(t, s.title, s.name)
	}
}
