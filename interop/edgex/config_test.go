package main

import (
	"os"
	"testing"

	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/environment"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/utils"
	"github.com/edgexfoundry/go-mod-core-contracts/v4/clients/logger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// EdgeX applies an environment override only to a setting its
// configuration file already has: the variables "ztedge edgex env" prints
// reach the probe because res/configuration.yaml lists the SecurityOptions
// keys and the core-data client, and a client the file lacks is ignored.
// This runs EdgeX's own override and merge code on the probe's file.
func TestZtedgeEnvironmentReachesTheConfiguration(t *testing.T) {
	raw, err := os.ReadFile("res/configuration.yaml")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &m))
	for k, v := range map[string]string{
		"SERVICE_SECURITYOPTIONS_MODE":                         "zerotrust",
		"SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER":           "https://127.0.0.1:1280",
		"CLIENTS_CORE_DATA_HOST":                               "core-data.edgex.ziti",
		"CLIENTS_CORE_DATA_PORT":                               "80",
		"CLIENTS_CORE_DATA_SECURITYOPTIONS_MODE":               "zerotrust",
		"CLIENTS_CORE_DATA_SECURITYOPTIONS_OPENZITICONTROLLER": "https://127.0.0.1:1280",
		"CLIENTS_CORE_METADATA_HOST":                           "core-metadata.edgex.ziti",
	} {
		t.Setenv(k, v)
	}
	n, err := environment.NewVariables(logger.NewMockClient()).OverrideConfigMapValues(m)
	require.NoError(t, err)
	assert.Equal(t, 6, n, "every override but the client the file lacks")
	cfg := &Config{}
	require.NoError(t, utils.MergeValues(cfg, m))
	assert.Equal(t, map[string]string{"Mode": "zerotrust", "OpenZitiController": "https://127.0.0.1:1280"}, cfg.Service.SecurityOptions)
	cd := cfg.Clients["core-data"]
	require.NotNil(t, cd)
	assert.Equal(t, "core-data.edgex.ziti", cd.Host)
	assert.Equal(t, 80, cd.Port)
	assert.Equal(t, "zerotrust", cd.SecurityOptions["Mode"])
	assert.NotContains(t, cfg.Clients, "core-metadata")
}
