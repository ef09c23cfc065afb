package inspect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleStatus() *Status {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	seen := now.Add(-3 * time.Second)
	return &Status{
		Time:       now,
		Controller: ControllerStatus{URL: "https://127.0.0.1:18280", Reachable: true},
		Vault: VaultStatus{Address: "http://127.0.0.1:18200", Reachable: true, Version: "1.21.0",
			Issuer: "http://127.0.0.1:18200/v1/identity/oidc", JWKSURL: "http://127.0.0.1:18200/v1/identity/oidc/.well-known/keys",
			Key: KeyStatus{Name: "ztedge", Present: true, Algorithm: "ES384", RotationPeriodSeconds: 86400, VerificationTTLSeconds: 86400,
				AllowedClientIDs: []string{"edgex"}, PublishedKeys: 2}},
		Signer:  SignerStatus{Name: "ztedge-vault", Present: true, Enabled: true, Issuer: "http://127.0.0.1:18200/v1/identity/oidc", Audience: "edgex", MatchesVault: true},
		Routers: []RouterStatus{{Name: "router-1", ID: "r1", Online: true}, {Name: "router-2", ID: "r2"}},
		Services: []ServiceStatus{
			{Name: "core-data", ZitiService: "edgex.core-data", Present: true, Bound: true, Routers: []string{"router-1"},
				Identity: IdentityStatus{Name: "core-data", Present: true, Authenticated: true, RouterConnected: true, LastActivity: &seen}},
			{Name: "core-metadata", ZitiService: "edgex.core-metadata", Present: true, Routers: []string{},
				Identity: IdentityStatus{Name: "core-metadata", Present: true}},
		},
		Clients: []IdentityStatus{{Name: "operator", Present: true}},
		Dependencies: []DependencyStatus{
			{Name: "redis", ZitiService: "edgex.redis", Router: "node-a", Present: true, Bound: true, Routers: []string{"node-a"}},
			{Name: "ztedge.vault", ZitiService: "ztedge.vault", Router: "hub", Present: true, Routers: []string{}},
			{Name: "mqtt", ZitiService: "edgex.mqtt", Router: "router-2", Present: true, Routers: []string{"router-2"}},
		},
		Problems: []string{"core-metadata is not bound: it is not running, or cannot bind (ztedge doctor -f TOPOLOGY core-metadata says why)"},
	}
}

// TestStatusJSONShape pins the documented shape of "ztedge status -o json":
// a field may be added, never renamed or removed.
func TestStatusJSONShape(t *testing.T) {
	b, err := json.Marshal(sampleStatus())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"time", "controller", "vault", "signer", "routers", "services", "clients", "dependencies", "problems"}, keys(m))
	assert.ElementsMatch(t, []string{"url", "reachable"}, keys(m["controller"]))
	assert.ElementsMatch(t, []string{"address", "reachable", "sealed", "version", "issuer", "jwksUrl", "key"}, keys(m["vault"]))
	assert.ElementsMatch(t, []string{"name", "present", "algorithm", "rotationPeriodSeconds", "verificationTtlSeconds", "allowedClientIds", "publishedKeys"},
		keys(m["vault"].(map[string]any)["key"]))
	assert.ElementsMatch(t, []string{"name", "present", "enabled", "issuer", "audience", "matchesVault"}, keys(m["signer"]))
	assert.ElementsMatch(t, []string{"name", "id", "online"}, keys(m["routers"].([]any)[0]))
	svc := m["services"].([]any)[0]
	assert.ElementsMatch(t, []string{"name", "zitiService", "present", "bound", "routers", "identity"}, keys(svc))
	assert.ElementsMatch(t, []string{"name", "present", "authenticated", "routerConnected", "lastActivity"}, keys(svc.(map[string]any)["identity"]))
	assert.Equal(t, "2026-12-05T11:59:57Z", svc.(map[string]any)["identity"].(map[string]any)["lastActivity"])
	assert.ElementsMatch(t, []string{"name", "zitiService", "router", "present", "bound", "routers"}, keys(m["dependencies"].([]any)[0]))
}

func TestStatusText(t *testing.T) {
	var b strings.Builder
	_, err := sampleStatus().WriteTo(&b)
	require.NoError(t, err)
	got := b.String()
	assert.Contains(t, got, "Vault       http://127.0.0.1:18200   unsealed, version 1.21.0\n")
	assert.Contains(t, got, "JWT key     ztedge                   ES384, rotates every 24h0m0s, 2 public keys published\n")
	assert.Regexp(t, `core-data\s+router-1\s+online\s+3s ago\n`, got)
	assert.Regexp(t, `core-metadata\s+NOT BOUND\s+offline\s+-\n`, got)
	assert.Contains(t, got, "Problems\n  - core-metadata is not bound")
	assert.Regexp(t, `Dependencies\n\s+DEPENDENCY\s+HOSTED ON\s+ROUTER IN TOPOLOGY\n\s+redis\s+node-a\s+node-a\n\s+ztedge.vault\s+NOT HOSTED\s+hub\n\s+mqtt\s+router-2 \(OFFLINE\)\s+router-2\n`, got)

	// OIDC sessions are not listed: no column of dashes then.
	st := sampleStatus()
	st.Services[0].Identity.LastActivity = nil
	b.Reset()
	_, _ = st.WriteTo(&b)
	assert.NotContains(t, b.String(), "LAST ACTIVITY")
	assert.Regexp(t, `core-data\s+router-1\s+online\n`, b.String())
}

func TestQuoteFilter(t *testing.T) {
	f, err := quoteFilter("core-data")
	require.NoError(t, err)
	assert.Equal(t, `name = "core-data"`, f)
	for _, bad := range []string{"", `a"b`, `a\b`, "a\nb"} {
		_, err := quoteFilter(bad)
		assert.Error(t, err, "%q", bad)
	}
}
