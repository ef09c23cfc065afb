package provisioning

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
)

func TestTrustFilesFollowTheTopologysCAs(t *testing.T) {
	top := parseValid(t)
	dir := t.TempDir()
	top.Output = filepath.Join(dir, "out")
	top.Ziti.CACert = filepath.Join(dir, "ziti-ca.pem")
	top.Vault.CACert = filepath.Join(dir, "vault-ca.pem")
	require.NoError(t, os.WriteFile(top.Ziti.CACert, []byte("controller CA\n"), 0o644))
	require.NoError(t, os.WriteFile(top.Vault.CACert, []byte("vault CA\n"), 0o644))
	apply := func() []Change {
		changes, err := planTrustFiles(top)
		require.NoError(t, err)
		for _, c := range changes {
			require.NoError(t, c.apply(context.Background()), c.String())
		}
		return changes
	}
	svc := top.Services[0].Name
	creds := credentials.Path(top.Output, svc)

	changes := apply()
	assert.Len(t, changes, 2*len(top.Services), "two files per service")
	for _, c := range changes {
		assert.Equal(t, OpCreate, c.Op, c.String())
	}
	got, err := os.ReadFile(credentials.NextTo(creds, credentials.VaultCAFileName))
	require.NoError(t, err)
	assert.Equal(t, "vault CA\n", string(got))
	st, err := os.Stat(filepath.Dir(creds))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "the service's folder stays private")
	assert.Equal(t, credentials.NextTo(creds, credentials.VaultCAFileName), credentials.DefaultVaultCA(creds), "the runtime finds it")
	assert.Empty(t, apply(), "a second apply changes nothing")

	require.NoError(t, os.WriteFile(top.Ziti.CACert, []byte("rotated controller CA\n"), 0o644))
	top.Vault.CACert = ""
	changes = apply()
	require.Len(t, changes, 2*len(top.Services))
	ops := map[Op]int{}
	for _, c := range changes {
		ops[c.Op]++
	}
	assert.Equal(t, map[Op]int{OpUpdate: len(top.Services), OpDelete: len(top.Services)}, ops)
	got, err = os.ReadFile(credentials.NextTo(creds, credentials.ControllerCAFileName))
	require.NoError(t, err)
	assert.Equal(t, "rotated controller CA\n", string(got))
	assert.Empty(t, credentials.DefaultVaultCA(creds), "a Vault CA the topology no longer names is gone")
}
