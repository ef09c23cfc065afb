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
		if ver <= sec {
			t.Errorf("ttl %s: verification_ttl %ds does not exceed the token TTL", ttl, ver)
		}
		if ver > 10*rot {
			t.Errorf("ttl %s: verification_ttl %ds exceeds 10 x rotation_period %ds", ttl, ver, rot)
		}
		if rot < 60 {
			t.Errorf("ttl %s: rotation_period %ds under Vault's one-minute minimum", ttl, rot)
		}
	}
	if rot, ver := keyTimings(3600); rot != 86400 || ver != 86400 {
		t.Errorf("keyTimings(1h) = %d, %d; want one day each", rot, ver)
	}
}

func TestVaultAsSeconds(t *testing.T) {
	cases := []struct {
		in   any
		want int64
	}{
		{json.Number("3600"), 3600},
		{json.Number("1.5e3"), 1500},
		{float64(60), 60},
		{int(7), 7},
		{"1h", 3600},
		{"90", 90},
		{"", 0},
		{nil, 0},
	}
	for _, c := range cases {
		got, err := asSeconds(c.in)
		if err != nil || got != c.want {
			t.Errorf("asSeconds(%#v) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := asSeconds("soon"); err == nil {
		t.Error("asSeconds(\"soon\") succeeded")
	}
	if _, err := asSeconds(true); err == nil {
		t.Error("asSeconds(true) succeeded")
	}
}

func TestVaultSetsAndJSON(t *testing.T) {
	if !sameSet([]string{"b", "a", "a"}, []string{"a", "b"}) {
		t.Error("sameSet ignores neither order nor duplicates")
	}
	if sameSet([]string{"a"}, []string{"a", "b"}) {
		t.Error("sameSet([a], [a b]) = true")
	}
	if !sameSet(nil, []string{}) {
		t.Error("sameSet(nil, []) = false")
	}
	if got := asStrings([]any{"x", "y"}); len(got) != 2 || got[1] != "y" {
		t.Errorf("asStrings([]any) = %v", got)
	}
	if got := asStrings("a, b"); !sameSet(got, []string{"a", "b"}) {
		t.Errorf("asStrings(\"a, b\") = %v", got)
	}
	if normJSON(`{ "name" : "svc",  "b":1 }`) != normJSON(`{"b":1,"name":"svc"}`) {
		t.Error("normJSON does not normalise spacing and key order")
	}
	if got := oidcTemplate("core-data"); got != `{"name":"core-data"}` {
		t.Errorf("oidcTemplate = %s", got)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if d := key.diff(desiredKey(top)); len(d) != 0 {
		t.Errorf("key differs: %s", d.detail())
	}
	key.AllowedClientIDs = []string{"*"}
	key.Algorithm = "RS256"
	d := key.diff(desiredKey(top)).detail()
	if !strings.Contains(d, "algorithm") || !strings.Contains(d, "allowed_client_ids: [*] -> [edgex]") {
		t.Errorf("key diff detail = %q", d)
	}

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
	if err != nil {
		t.Fatal(err)
	}
	if d := role.diff(desiredAppRole(top, "svc-a")); len(d) != 0 {
		t.Errorf("approle role differs: %s", d.detail())
	}
	role.TokenPeriod = 7200
	if d := role.diff(desiredAppRole(top, "svc-a")).detail(); d != "token_period: 2h0m0s -> 1h0m0s" {
		t.Errorf("approle diff detail = %q", d)
	}

	oidc, err := parseOIDCRoleConfig(map[string]any{
		"client_id": "edgex",
		"key":       "ztedge",
		"template":  "{\n  \"name\": \"svc-a\"\n}",
		"ttl":       json.Number("3600"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := oidc.diff(desiredOIDCRole(top, "svc-a")); len(d) != 0 {
		t.Errorf("oidc role differs: %s", d.detail())
	}
	oidc.TTL = 60
	if d := oidc.diff(desiredOIDCRole(top, "svc-a")).detail(); !strings.HasPrefix(d, "ttl: 1m0s -> 1h0m0s") {
		t.Errorf("oidc diff detail = %q", d)
	}

	if !samePolicyText(vaultPolicyText("svc-a")+"\n\n", strings.ReplaceAll(vaultPolicyText("svc-a"), "\n", "\r\n")) {
		t.Error("samePolicyText is sensitive to trailing space or CRLF")
	}
	for _, want := range []string{`path "identity/oidc/token/svc-a"`, `["read"]`, `path "identity/oidc/introspect"`, `["create", "update"]`} {
		if !strings.Contains(vaultPolicyText("svc-a"), want) {
			t.Errorf("policy lacks %s", want)
		}
	}
	if got := vaultPolicyName("Svc-A"); got != "ztedge-svc-a" {
		t.Errorf("vaultPolicyName = %q", got)
	}
}

func TestVaultParseEntity(t *testing.T) {
	e := parseEntity(map[string]any{
		"id":       "e1",
		"name":     "svc-a",
		"policies": []any{"ztedge-svc-a"},
		"metadata": map[string]any{vaultManagedKey: "true"},
		"disabled": false,
		"aliases": []any{
			map[string]any{"id": "a1", "name": "rid", "mount_accessor": "auth_approle_1", "canonical_id": "e1"},
			map[string]any{"id": "a2", "name": "bob", "mount_accessor": "auth_userpass_1", "canonical_id": "e1"},
		},
	})
	if !e.managed() || e.ID != "e1" || len(e.Aliases) != 2 {
		t.Fatalf("parseEntity = %+v", e)
	}
	if got := e.aliasesOn("auth_approle_1"); len(got) != 1 || got[0].ID != "a1" {
		t.Errorf("aliasesOn = %+v", got)
	}
	if parseEntity(map[string]any{"name": "x", "metadata": nil}).managed() {
		t.Error("entity without metadata counts as managed")
	}
	if parseEntity(map[string]any{"name": "x", "metadata": map[string]any{vaultManagedKey: "false"}}).managed() {
		t.Error("entity with managed=false counts as managed")
	}
}

func TestVaultAliasProblem(t *testing.T) {
	cases := []struct {
		name string
		all  []vaultAlias
		want string
	}{
		{"ok", []vaultAlias{{ID: "1", Name: "rid", CanonicalID: "e"}, {ID: "2", Name: "other", CanonicalID: "f"}}, ""},
		{"missing", []vaultAlias{{ID: "2", Name: "other", CanonicalID: "f"}}, "missing"},
		{"stale name", []vaultAlias{{ID: "1", Name: "old", CanonicalID: "e"}}, "alias name is not the role's current role_id"},
		{"other entity", []vaultAlias{{ID: "1", Name: "rid", CanonicalID: "auto"}}, "the role's alias belongs to another entity"},
		{"extra", []vaultAlias{{ID: "1", Name: "rid", CanonicalID: "e"}, {ID: "3", Name: "old", CanonicalID: "e"}}, "entity has extra aliases on the mount"},
	}
	for _, c := range cases {
		if got := aliasProblem(c.all, "e", "rid"); got != c.want {
			t.Errorf("%s: aliasProblem = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVaultTokenSource(t *testing.T) {
	top := testVaultTopology("http://127.0.0.1:1", t.TempDir())
	t.Setenv("VAULT_TOKEN", "")
	if _, _, err := vaultToken(top); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	t.Setenv("VAULT_TOKEN", "env-token")
	if tok, src, err := vaultToken(top); err != nil || tok != "env-token" || src != "VAULT_TOKEN" {
		t.Errorf("env token: %q %q %v", tok, src, err)
	}
	top.Vault.TokenFile = filepath.Join(t.TempDir(), "token")
	os.WriteFile(top.Vault.TokenFile, []byte("  \n"), 0o600)
	if _, _, err := vaultToken(top); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token file: %v", err)
	}
	os.WriteFile(top.Vault.TokenFile, []byte("file-token\n"), 0o600)
	if tok, src, err := vaultToken(top); err != nil || tok != "file-token" || src != top.Vault.TokenFile {
		t.Errorf("file token: %q %q %v", tok, src, err)
	}
}

func TestVaultClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("VAULT_TOKEN", "some-token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = newVaultClient(ctx, testVaultTopology(addr, t.TempDir()))
	if err == nil || !strings.HasPrefix(err.Error(), "vault at "+addr+" is unreachable: ") {
		t.Fatalf("unreachable Vault: %v", err)
	}
}
