package provisioning

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/vault"
)

// testVaultTopology returns a topology with the defaults the caller would
// have applied.
func testVaultTopology(addr, output string, services ...string) *Topology {
	t := &Topology{
		Vault: VaultSettings{
			Address:     addr,
			Key:         "ztedge",
			Algorithm:   "ES384",
			AuthMount:   "ztedge-approle",
			TokenPeriod: Duration(time.Hour),
		},
		JWT:    JWTSettings{Audience: "edgex", TTL: Duration(time.Hour)},
		Output: output,
	}
	for _, s := range services {
		t.Services = append(t.Services, Service{Name: s})
	}
	return t
}

func TestVaultKeyTimings(t *testing.T) {
	for _, ttl := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 10 * 24 * time.Hour, 400 * 24 * time.Hour} {
		sec := int64(ttl / time.Second)
		rot, ver := keyTimings(sec)
		assert.Greater(t, ver, sec, "ttl %s: verification_ttl must exceed the token TTL", ttl)
		assert.LessOrEqual(t, ver, 10*rot, "ttl %s: verification_ttl within 10 x rotation_period", ttl)
		assert.GreaterOrEqual(t, rot, int64(60), "ttl %s: rotation_period at least Vault's one minute", ttl)
	}
	rot, ver := keyTimings(3600)
	assert.Equal(t, [2]int64{86400, 86400}, [2]int64{rot, ver}, "one day each for 1h tokens")
}

func TestVaultSetsAndJSON(t *testing.T) {
	assert.True(t, sameSet([]string{"b", "a", "a"}, []string{"a", "b"}), "order and duplicates ignored")
	assert.False(t, sameSet([]string{"a"}, []string{"a", "b"}))
	assert.True(t, sameSet(nil, []string{}))
	assert.Equal(t, normJSON(`{"b":1,"name":"svc"}`), normJSON(`{ "name" : "svc",  "b":1 }`))
	assert.Equal(t, `{"name":"core-data"}`, oidcTemplate("core-data"))
}

// Answers shaped as Vault 1.21 sends them (numbers as json.Number, seconds
// for durations) must compare equal to the desired state.
func TestVaultDesiredStateMatchesVaultAnswers(t *testing.T) {
	top := testVaultTopology("http://127.0.0.1:8200", "/tmp/out", "svc-a")

	key, err := parseKeyConfig(map[string]any{
		"algorithm":          "ES384",
		"allowed_client_ids": []any{"edgex"},
		"rotation_period":    json.Number("86400"),
		"verification_ttl":   json.Number("86400"),
	})
	require.NoError(t, err)
	assert.Empty(t, key.diff(desiredKey(top)))
	key.AllowedClientIDs = []string{"*"}
	key.Algorithm = "RS256"
	d := key.diff(desiredKey(top)).detail()
	assert.Contains(t, d, "algorithm")
	assert.Contains(t, d, "allowed_client_ids: [*] -> [edgex]")

	role, err := parseAppRoleConfig(map[string]any{
		"bind_secret_id":          true,
		"secret_id_bound_cidrs":   nil,
		"secret_id_num_uses":      json.Number("0"),
		"secret_id_ttl":           json.Number("0"),
		"local_secret_ids":        false,
		"token_bound_cidrs":       []any{},
		"token_explicit_max_ttl":  json.Number("0"),
		"token_max_ttl":           json.Number("0"),
		"token_no_default_policy": false,
		"token_num_uses":          json.Number("0"),
		"token_period":            json.Number("3600"),
		"token_policies":          []any{"ztedge-svc-a"},
		"token_ttl":               json.Number("0"),
		"token_type":              "default",
		"period":                  json.Number("3600"),
	})
	require.NoError(t, err)
	assert.Empty(t, role.diff(desiredAppRole(top, "svc-a")))
	role.TokenPeriod = 7200
	assert.Equal(t, "token_period: 2h0m0s -> 1h0m0s", role.diff(desiredAppRole(top, "svc-a")).detail())

	oidc, err := parseOIDCRoleConfig(map[string]any{
		"client_id": "edgex",
		"key":       "ztedge",
		"template":  "{\n  \"name\": \"svc-a\"\n}",
		"ttl":       json.Number("3600"),
	})
	require.NoError(t, err)
	assert.Empty(t, oidc.diff(desiredOIDCRole(top, "svc-a")))
	oidc.TTL = 60
	assert.True(t, strings.HasPrefix(oidc.diff(desiredOIDCRole(top, "svc-a")).detail(), "ttl: 1m0s -> 1h0m0s"))

	assert.True(t, samePolicyText(vaultPolicyText("svc-a")+"\n\n", strings.ReplaceAll(vaultPolicyText("svc-a"), "\n", "\r\n")),
		"trailing space and CRLF do not count")
	for _, want := range []string{`path "identity/oidc/token/svc-a"`, `["read"]`, `path "identity/oidc/introspect"`, `["create", "update"]`} {
		assert.Contains(t, vaultPolicyText("svc-a"), want)
	}
	assert.Equal(t, "ztedge-svc-a", vaultPolicyName("Svc-A"))
}

func TestVaultManagedEntity(t *testing.T) {
	assert.True(t, managedEntity(vault.ParseEntity(map[string]any{"metadata": map[string]any{vaultManagedKey: "true"}})))
	assert.False(t, managedEntity(vault.ParseEntity(map[string]any{"name": "x", "metadata": nil})))
	assert.False(t, managedEntity(vault.ParseEntity(map[string]any{"metadata": map[string]any{vaultManagedKey: "false"}})))
}

func TestVaultAliasProblem(t *testing.T) {
	cases := []struct {
		name string
		all  []vault.Alias
		want string
	}{
		{"ok", []vault.Alias{{ID: "1", Name: "rid", CanonicalID: "e"}, {ID: "2", Name: "other", CanonicalID: "f"}}, ""},
		{"missing", []vault.Alias{{ID: "2", Name: "other", CanonicalID: "f"}}, "missing"},
		{"stale name", []vault.Alias{{ID: "1", Name: "old", CanonicalID: "e"}}, "alias name is not the role's current role_id"},
		{"other entity", []vault.Alias{{ID: "1", Name: "rid", CanonicalID: "auto"}}, "the role's alias belongs to another entity"},
		{"extra", []vault.Alias{{ID: "1", Name: "rid", CanonicalID: "e"}, {ID: "3", Name: "old", CanonicalID: "e"}}, "entity has extra aliases on the mount"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, aliasProblem(c.all, "e", "rid"), c.name)
	}
}

func TestVaultTokenSource(t *testing.T) {
	top := testVaultTopology("http://127.0.0.1:1", t.TempDir())
	t.Setenv("VAULT_TOKEN", "")
	_, _, err := vaultToken(top)
	assert.ErrorContains(t, err, "VAULT_TOKEN")

	t.Setenv("VAULT_TOKEN", "env-token")
	tok, src, err := vaultToken(top)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"env-token", "VAULT_TOKEN"}, [2]string{tok, src})

	top.Vault.TokenFile = filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(top.Vault.TokenFile, []byte("  \n"), 0o600))
	_, _, err = vaultToken(top)
	assert.ErrorContains(t, err, "is empty")
	require.NoError(t, os.WriteFile(top.Vault.TokenFile, []byte("file-token\n"), 0o600))
	tok, src, err = vaultToken(top)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"file-token", top.Vault.TokenFile}, [2]string{tok, src})
}

func TestVaultClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv("VAULT_TOKEN", "some-token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = newVaultClient(ctx, testVaultTopology(addr, t.TempDir()))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "vault at "+addr+" is unreachable: "), err.Error())
}
