package provisioning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validYAML = `
vault:
  address: http://127.0.0.1:8200
ziti:
  controller: 127.0.0.1:1280
output: /tmp/out
services:
  - name: core-data
    groups: [core]
  - name: core-metadata
    groups: [core]
  - name: device-virtual
    groups: [devices]
    port: 59900
clients:
  - name: operator
    groups: [admins]
dial:
  - from: [group:devices]
    to: [core-data, core-metadata]
  - from: [core-data]
    to: [core-metadata]
  - from: [group:admins]
    to: [group:core]
`

func parseValid(t *testing.T) *Topology {
	t.Helper()
	top, err := Parse([]byte(validYAML))
	require.NoError(t, err)
	require.NoError(t, top.Validate())
	return top
}

func TestParseAppliesDefaults(t *testing.T) {
	top := parseValid(t)
	assert.Equal(t, "https://127.0.0.1:1280", top.Ziti.Controller)
	assert.Equal(t, DefaultVaultKey, top.Vault.Key)
	assert.Equal(t, DefaultAuthMount, top.Vault.AuthMount)
	assert.Equal(t, DefaultAudience, top.JWT.Audience)
	assert.Equal(t, Duration(DefaultJWTTTL), top.JWT.TTL)
	assert.Equal(t, []string{"#all"}, top.Ziti.EdgeRouterRoles)
	assert.Equal(t, "core-data.edgex.ziti", top.Services[0].Host)
	assert.Equal(t, 80, top.Services[0].Port)
	assert.Equal(t, 59900, top.Services[2].Port)
}

func TestParseExpandsEnvironment(t *testing.T) {
	t.Setenv("ZT_TEST_VAULT", "http://127.0.0.1:9999")
	top, err := Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:8200", "${ZT_TEST_VAULT}", 1)))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9999", top.Vault.Address)

	_, err = Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:8200", "${ZT_TEST_UNSET_VARIABLE}", 1)))
	require.ErrorContains(t, err, "ZT_TEST_UNSET_VARIABLE")
}

func TestParseRejectsUnknownFieldsAndEmptyFiles(t *testing.T) {
	_, err := Parse([]byte(validYAML + "\nservicez: []\n"))
	require.ErrorContains(t, err, "servicez")
	_, err = Parse([]byte(""))
	require.ErrorContains(t, err, "empty")
	_, err = Parse([]byte("services: [name: x"))
	require.Error(t, err)
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Topology)
		want   string
	}{
		{"missing vault address", func(t *Topology) { t.Vault.Address = "" }, "vault.address: missing"},
		{"vault scheme", func(t *Topology) { t.Vault.Address = "ftp://x" }, `vault.address: "ftp://x": the scheme must be http or https`},
		{"controller scheme", func(t *Topology) { t.Ziti.Controller = "http://x:1" }, `ziti.controller: "http://x:1": the scheme must be https`},
		{"vault without host", func(t *Topology) { t.Vault.Address = "https://:8200" }, `vault.address: "https://:8200" names no host`},
		{"vault port", func(t *Topology) { t.Vault.Address = "https://vault:99999" }, `vault.address: "https://vault:99999": port 99999 is out of range`},
		{"edge router role", func(t *Topology) { t.Ziti.EdgeRouterRoles = []string{"#all", "#has space"} }, `ziti.edgeRouterRoles[1]: "#has space" must be`},
		{"bare edge router role", func(t *Topology) { t.Ziti.EdgeRouterRoles = []string{"@"} }, `ziti.edgeRouterRoles[0]: "@" must be`},
		{"vault password", func(t *Topology) { t.Vault.Address = "https://user:secretpw@vault:8200" }, `vault.address: "https://xxxxx@vault:8200" must not hold a user or password`},
		{"vault path", func(t *Topology) { t.Vault.Address = "https://vault:8200/v1" }, `vault.address: "https://vault:8200/v1" must be https://host:port only`},
		{"bad name", func(t *Topology) { t.Services[1].Name = "Core_Data" }, `services[1].name: "Core_Data" is not a valid name`},
		{"missing name", func(t *Topology) { t.Services[0].Name = "" }, "services[0].name: missing"},
		{"duplicate service", func(t *Topology) { t.Services[1].Name = "core-data" }, `services[1].name: "core-data" is already the name of a service`},
		{"client named like service", func(t *Topology) { t.Clients[0].Name = "core-data" }, `clients[0].name: "core-data" is already the name of a service`},
		{"port", func(t *Topology) { t.Services[0].Port = 70000 }, "services[0].port: 70000 is out of range"},
		{"host", func(t *Topology) { t.Services[0].Host = "bad host" }, `services[0].host: "bad host" is not a valid host name`},
		{"duplicate intercept", func(t *Topology) { t.Services[1].Host = "core-data.edgex.ziti" }, "intercept address core-data.edgex.ziti:80 is already used"},
		{"bad group", func(t *Topology) { t.Services[0].Groups = []string{"Core!"} }, `services[0].groups[0]: "Core!" is not a valid group name`},
		{"reserved group", func(t *Topology) { t.Services[0].Groups = []string{"ztedge.routers"} },
			`services[0].groups[0]: group "ztedge.routers" starts with "ztedge.", which ztedge reserves for its own attributes`},
		{"unknown dialer", func(t *Topology) { t.Dial[1].From = []string{"core-dta"} }, `dial[1].from[0]: unknown service or client "core-dta"`},
		{"unknown target", func(t *Topology) { t.Dial[0].To = []string{"nope"} }, `dial[0].to[0]: unknown service "nope"`},
		{"client as target", func(t *Topology) { t.Dial[0].To = []string{"operator"} }, `dial[0].to[0]: "operator" is a client`},
		{"unknown group", func(t *Topology) { t.Dial[0].From = []string{"group:nobody"} }, `dial[0].from[0]: unknown group "nobody"`},
		{"client group as target", func(t *Topology) { t.Dial[0].To = []string{"group:admins"} }, `group "admins" has no services`},
		{"empty rule", func(t *Topology) { t.Dial[0].From = nil }, "dial[0].from: missing"},
		{"no services", func(t *Topology) { t.Services = nil; t.Dial = nil }, "services: at least one service is required"},
		{"vault default key", func(t *Topology) { t.Vault.Key = "default" }, `vault.key: "default" is Vault's built-in key`},
		{"algorithm", func(t *Topology) { t.Vault.Algorithm = "HS256" }, `vault.algorithm: "HS256" is not supported`},
		{"ttl", func(t *Topology) { t.JWT.TTL = Duration(1) }, "jwt.ttl:"},
		{"audience", func(t *Topology) { t.JWT.Audience = "a b" }, "jwt.audience:"},
		{"output", func(t *Topology) { t.Output = "" }, "output: missing"},
		{"router roles", func(t *Topology) { t.Ziti.EdgeRouterRoles = []string{"all"} }, "ziti.edgeRouterRoles[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top := parseValid(t)
			tc.mutate(top)
			err := top.Validate()
			require.Error(t, err)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	top := parseValid(t)
	top.Vault.Address = ""
	top.Services[0].Port = -1
	err := top.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 2)
}

func TestDialersExpandsGroups(t *testing.T) {
	top := parseValid(t)
	d := top.Dialers()
	assert.Equal(t, []string{"device-virtual", "operator"}, d["core-data"])
	assert.Equal(t, []string{"core-data", "device-virtual", "operator"}, d["core-metadata"])
	assert.NotContains(t, d, "device-virtual")
}
