package credentials_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
)

func testCredentials() *credentials.Service {
	return &credentials.Service{
		Service:      "svc-a",
		VaultAddress: "http://127.0.0.1:8200",
		AuthMount:    "ztedge-approle",
		RoleID:       "role-123",
		SecretID:     "very-secret-456",
		OIDCRole:     "svc-a",
		Audience:     "edgex",
	}
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "/srv/out/services/svc-a/credentials.json", credentials.Path("/srv/out", "svc-a"))
	assert.Equal(t, "/srv/out/clients/operator.json", credentials.IdentityPath("/srv/out", "operator"))
}

func TestWriteRead(t *testing.T) {
	out := t.TempDir()
	path := credentials.Path(out, "svc-a")
	c := testCredentials()
	require.NoError(t, credentials.Write(path, c))
	for p, want := range map[string]os.FileMode{
		path:                           0o600,
		filepath.Dir(path):             0o700,
		filepath.Join(out, "services"): 0o700,
	} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), p)
	}
	got, err := credentials.Read(path)
	require.NoError(t, err)
	assert.Equal(t, *c, *got)

	// Overwrite: the folder keeps only the file (no temporary leftovers),
	// and a folder made too open is tightened again.
	require.NoError(t, os.Chmod(filepath.Dir(path), 0o755))
	c.SecretID = "another-secret"
	require.NoError(t, credentials.Write(path, c))
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1)
	fi, _ := os.Stat(filepath.Dir(path))
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	got, err = credentials.Read(path)
	require.NoError(t, err)
	assert.Equal(t, "another-secret", got.SecretID)

	bad := *c
	bad.RoleID = ""
	assert.ErrorContains(t, credentials.Write(path, &bad), `"roleId"`)
}

func TestWriteReplacesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	path := credentials.Path(dir, "svc-a")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.Symlink(target, path))
	require.NoError(t, credentials.Write(path, testCredentials()))
	b, _ := os.ReadFile(target)
	assert.Equal(t, "keep", string(b), "the link's target must not be written")
}

func TestRefusesOpenFile(t *testing.T) {
	path := credentials.Path(t.TempDir(), "svc-a")
	require.NoError(t, credentials.Write(path, testCredentials()))
	require.NoError(t, os.Chmod(path, 0o644))
	_, err := credentials.Read(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "0644")
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	full := func(mutate func(m map[string]any)) string {
		b, _ := json.Marshal(testCredentials())
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		mutate(m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, body, want string
	}{
		{"missing-secret", full(func(m map[string]any) { delete(m, "secretId") }), `"secretId" is missing`},
		{"empty-audience", full(func(m map[string]any) { m["audience"] = " " }), `"audience" is missing`},
		{"unknown-field", full(func(m map[string]any) { m["token"] = "x" }), `unknown field "token"`},
		{"bad-address", full(func(m map[string]any) { m["vaultAddress"] = "127.0.0.1:8200" }), `"vaultAddress" must be an http or https URL`},
		{"bad-type", full(func(m map[string]any) { m["roleId"] = 5 }), `field "roleId" must be a string`},
		{"syntax", `{"secretId": "very-secret-456",,}`, "JSON syntax error"},
		{"empty", ``, "empty or truncated"},
		{"trailing", full(func(map[string]any) {}) + `{}`, "extra data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(c.name+".json", c.body)
			_, err := credentials.Read(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), p)
			assert.NotContains(t, err.Error(), "very-secret-456", "the error must not reveal the secret_id")
		})
	}
	_, err := credentials.Read(filepath.Join(dir, "nope.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestDefaultVaultCA(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	assert.Empty(t, credentials.DefaultVaultCA(creds), "no CA written")
	assert.Empty(t, credentials.DefaultVaultCA(""))
	require.NoError(t, os.WriteFile(filepath.Join(dir, credentials.VaultCAFileName), []byte("pem"), 0o644))
	assert.Equal(t, filepath.Join(dir, credentials.VaultCAFileName), credentials.DefaultVaultCA(creds))
}
