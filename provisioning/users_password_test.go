package provisioning

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStagePasswordFileFailsOnABadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "alice.password")
	require.NoError(t, os.WriteFile(file, []byte("old\n"), 0o600))
	_, err := StagePasswordFile(filepath.Join(file, "oops"))
	assert.ErrorContains(t, err, "creating the folder of")

	_, err = StagePasswordFile(t.TempDir())
	assert.ErrorContains(t, err, "is a folder")
}

// A failing Vault leaves the old password file as it was and no
// temporary file behind.
func TestAddWithPasswordFileDiscardsOnVaultFailure(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, `{"errors":["boom"]}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	c.SetToken("x")
	users, err := NewUsers(c, UserOptions{})
	require.NoError(t, err)

	dir := t.TempDir()
	path := filepath.Join(dir, "alice.password")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o600))
	pf, err := StagePasswordFile(path)
	require.NoError(t, err)
	_, err = users.AddWithPasswordFile(t.Context(), "alice", pf)
	require.Error(t, err)
	assert.Positive(t, requests.Load())

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary password file was removed")
}
