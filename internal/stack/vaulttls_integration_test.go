package stack_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/vault"
)

// TestStackWithTLSVault starts the stack with Vault as a real server: TLS
// with a generated CA, file storage, its unseal key and root token kept
// private in the state folder. A sealed Vault is unsealed by the next Up,
// RestartVault brings it back unsealed with its data, and neither secret
// reaches a log.
func TestStackWithTLSVault(t *testing.T) {
	stacktest.Integration(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	st, cleanup, err := stacktest.Start(ctx, t.Output(), func(c *stack.Config) { c.VaultTLS = true })
	require.NoError(t, err)
	t.Cleanup(cleanup)
	cfg := configOf(t, st)
	cfg.VaultTLS = true

	require.True(t, strings.HasPrefix(st.VaultAddress, "https://127.0.0.1:"), st.VaultAddress)
	require.NotEmpty(t, st.VaultCAFile)
	initFile := filepath.Join(filepath.Dir(st.VaultCAFile), "vault-init.json")
	for _, p := range []string{initFile, st.VaultTokenFile, filepath.Join(filepath.Dir(st.VaultCAFile), "vault-key.pem")} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
	token, err := st.VaultToken()
	require.NoError(t, err)
	client, err := vault.HTTPClient(vault.Config{Address: st.VaultAddress, CAFile: st.VaultCAFile})
	require.NoError(t, err)
	call := func(method, path string) int {
		req, err := http.NewRequestWithContext(ctx, method, st.VaultAddress+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Vault-Token", token)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/v1/auth/token/lookup-self"), "the root token in the state folder works")
	_, err = http.Get(st.VaultAddress + "/v1/sys/health")
	assert.Error(t, err, "without the stack's CA the certificate is not trusted")
	env, err := os.ReadFile(st.EnvFile())
	require.NoError(t, err)
	assert.Contains(t, string(env), "export VAULT_CACERT=")
	assert.Contains(t, string(env), "export ZTEDGE_VAULT_CA_FILE=")

	t.Run("a sealed vault is unsealed by the next Up", func(t *testing.T) {
		require.Equal(t, http.StatusNoContent, call(http.MethodPut, "/v1/sys/seal"))
		_, health, err := stack.Status(ctx, cfg)
		require.NoError(t, err)
		require.False(t, health.Vault.Up, "sealed")
		var out bytes.Buffer
		c := cfg
		c.Progress = &out
		again, err := stack.Up(ctx, c)
		require.NoError(t, err)
		assert.Contains(t, out.String(), "was sealed: unsealed it")
		assert.Equal(t, st.VaultPID, again.VaultPID, "the same Vault, not a new stack")
		assert.Equal(t, st.ZitiPID, again.ZitiPID)
		assert.Equal(t, http.StatusOK, call(http.MethodGet, "/v1/auth/token/lookup-self"))
	})

	t.Run("RestartVault brings it back unsealed with its data", func(t *testing.T) {
		began := time.Now()
		next, err := stack.RestartVault(ctx, st, t.Output())
		require.NoError(t, err)
		t.Logf("timing: vault restarted and unsealed in %s", time.Since(began).Round(time.Millisecond))
		assert.NotEqual(t, st.VaultPID, next.VaultPID)
		assert.Equal(t, http.StatusOK, call(http.MethodGet, "/v1/auth/token/lookup-self"), "the root token survives: file storage")
		_, health, err := stack.Status(ctx, cfg)
		require.NoError(t, err)
		assert.True(t, health.Healthy(), "vault %s; controller %s; router %s", health.Vault, health.Controller, health.Router)
	})

	t.Run("no secret in the logs", func(t *testing.T) {
		for _, f := range []string{st.VaultLogFile(), st.VaultLogFile() + ".1", st.ZitiLogFile()} {
			data, err := os.ReadFile(f)
			require.NoError(t, err, f)
			assert.NotContains(t, string(data), token, f)
		}
	})
}

func TestRestartVaultRefusesTheDevServer(t *testing.T) {
	_, err := stack.RestartVault(t.Context(), &stack.State{VaultAddress: "http://127.0.0.1:18200"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in-memory dev server")
}
