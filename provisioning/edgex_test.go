package provisioning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// edgexTopology is validYAML with device-virtual an EdgeX service that
// keeps secrets.
func edgexTopology(t *testing.T) *Topology {
	t.Helper()
	yaml := strings.Replace(validYAML, "    port: 59900\n", "    port: 59900\n    edgex: true\n    secrets: true\n", 1)
	top, err := Parse([]byte(yaml))
	require.NoError(t, err)
	require.NoError(t, top.Validate())
	return top
}

func TestEdgeXFieldsParse(t *testing.T) {
	top := edgexTopology(t)
	assert.Equal(t, DefaultSecretsMount, top.Vault.SecretsMount)
	assert.True(t, top.Services[2].EdgeX)
	assert.True(t, top.Services[2].Secrets)
	assert.False(t, top.Services[0].EdgeX)
	assert.True(t, top.keepsSecrets())
}

func TestSecretsMountMustBeWhereEdgeXLooks(t *testing.T) {
	for mount, ok := range map[string]bool{"secret": true, "/secret/": true, "secret/edgex": true, "kv": false, "secret/edgex/x": false, "secrets": false} {
		top, err := Parse([]byte(strings.Replace(validYAML, "  address: http://127.0.0.1:8200\n", "  address: http://127.0.0.1:8200\n  secretsMount: "+mount+"\n", 1)))
		require.NoError(t, err)
		err = top.Validate()
		if ok {
			assert.NoError(t, err, mount)
		} else {
			assert.ErrorContains(t, err, "vault.secretsMount", mount)
		}
	}
}

func TestPolicyGrantsEdgeXSecretsOnlyToServicesThatKeepThem(t *testing.T) {
	top := edgexTopology(t)
	v := &vaultSide{t: top}
	text := v.policyText("device-virtual")
	assert.True(t, strings.HasPrefix(text, vaultPolicyText("device-virtual")))
	assert.Contains(t, text, `path "secret/edgex/device-virtual/*" {`)
	assert.Contains(t, text, `capabilities = ["create", "read", "update", "delete", "list"]`)
	assert.Equal(t, vaultPolicyText("core-data"), v.policyText("core-data"), "no secrets, no extra path")
	assert.NotContains(t, v.policyText("core-data"), "secret/")
}

func TestEdgeXEnv(t *testing.T) {
	top := edgexTopology(t)
	env, err := top.EdgeXEnv("device-virtual")
	require.NoError(t, err)
	got := string(FormatEnv(env))
	want := `EDGEX_SECURITY_SECRET_STORE=true
SECRETSTORE_TYPE=openbao
SECRETSTORE_PROTOCOL=http
SECRETSTORE_HOST=127.0.0.1
SECRETSTORE_PORT=8200
SECRETSTORE_TOKENFILE=/tmp/out/services/device-virtual/secrets-token.json
SERVICE_SECURITYOPTIONS_MODE=zerotrust
SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280
CLIENTS_CORE_DATA_PROTOCOL=http
CLIENTS_CORE_DATA_HOST=core-data.edgex.ziti
CLIENTS_CORE_DATA_PORT=80
CLIENTS_CORE_DATA_SECURITYOPTIONS_MODE=zerotrust
CLIENTS_CORE_DATA_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280
CLIENTS_CORE_METADATA_PROTOCOL=http
CLIENTS_CORE_METADATA_HOST=core-metadata.edgex.ziti
CLIENTS_CORE_METADATA_PORT=80
CLIENTS_CORE_METADATA_SECURITYOPTIONS_MODE=zerotrust
CLIENTS_CORE_METADATA_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280
`
	assert.Equal(t, want, got)

	// core-metadata may dial nobody: no clients, still the service's own settings.
	_, err = top.EdgeXEnv("core-metadata")
	assert.ErrorContains(t, err, "not marked edgex: true")
	top.Services[1].EdgeX = true
	env, err = top.EdgeXEnv("core-metadata")
	require.NoError(t, err)
	assert.NotContains(t, string(FormatEnv(env)), "CLIENTS_")
	assert.Contains(t, string(FormatEnv(env)), "SERVICE_SECURITYOPTIONS_MODE=zerotrust\n")

	_, err = top.EdgeXEnv("nope")
	assert.ErrorContains(t, err, `"nope" is not a service`)
}

func TestEdgeXSecretStoreEnvWithTLS(t *testing.T) {
	top := edgexTopology(t)
	top.Vault.Address = "https://vault.example"
	top.Vault.CACert = "/etc/ztedge/vault-ca.pem"
	env, err := top.EdgeXSecretStoreEnv("device-virtual")
	require.NoError(t, err)
	got := string(FormatEnv(env))
	assert.Contains(t, got, "SECRETSTORE_PROTOCOL=https\nSECRETSTORE_HOST=vault.example\nSECRETSTORE_PORT=443\nSECRETSTORE_ROOTCACERTPATH=/etc/ztedge/vault-ca.pem\n")
	assert.NotContains(t, got, "SERVICE_SECURITYOPTIONS")

	top.Output = "/tmp/a\nEVIL=1"
	_, err = top.EdgeXSecretStoreEnv("device-virtual")
	assert.ErrorContains(t, err, "line break")
}

func TestEdgeXEnvKey(t *testing.T) {
	assert.Equal(t, "CORE_METADATA", edgexEnvKey("core-metadata"))
	assert.Equal(t, "APP_RULES_ENGINE", edgexEnvKey("app-rules-engine"))
}
