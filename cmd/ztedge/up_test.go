package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
)

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestIntegrationUpOnce runs the main job, "ztedge up -once", on private
// ports and state: tools, stack, provisioning, the example services in
// zerotrust mode, the port check and curl through "ztedge tunnel".
func TestIntegrationUpOnce(t *testing.T) {
	stacktest.Integration(t)
	ports, err := stacktest.FreePorts()
	require.NoError(t, err)
	t.Setenv("ZTEDGE_STATE_DIR", t.TempDir())
	t.Setenv("ZTEDGE_VAULT_PORT", fmt.Sprint(ports.Vault))
	t.Setenv("ZTEDGE_CTRL_PORT", fmt.Sprint(ports.Controller))
	t.Setenv("ZTEDGE_ROUTER_PORT", fmt.Sprint(ports.Router))
	// up sets the topology's variables in the process: restore them after.
	for _, k := range []string{"ZTEDGE_VAULT_ADDR", "ZTEDGE_VAULT_TOKEN_FILE", "ZTEDGE_ZITI_CONTROLLER",
		"ZTEDGE_ZITI_CA_FILE", "ZTEDGE_ZITI_USER", "ZTEDGE_ZITI_PASSWORD_FILE", "ZTEDGE_OUTPUT"} {
		t.Setenv(k, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out strings.Builder
	err = up(ctx, &out, upOptions{
		topology: "examples/topology.yaml", once: true,
		coreDataPing: freeTCPPort(t), devicePing: freeTCPPort(t), tunnelPort: freeTCPPort(t), proxyPort: freeTCPPort(t),
		readingsPeriod: time.Second, vaultTLS: new(true), // the default of -vault-tls
	})
	require.NoError(t, err, out.String())
	got := out.String()
	assert.Contains(t, got, "Vault with TLS and file storage")
	assert.Regexp(t, `Vault:\s+https://127\.0\.0\.1:\d+ `, got)
	assert.Regexp(t, `Applied: [1-9][0-9]* to create, 0 to update, 0 to delete\.`, got)
	assert.Regexp(t, `core-data\s+pid \d+\s+listens on 127\.0\.0\.1:\d+ \(ping only\)`, got)
	assert.Regexp(t, `device-virtual\s+pid \d+\s+listens on 127\.0\.0\.1:\d+ \(ping only\)`, got)
	assert.Contains(t, got, `sent by "device-virtual" over Ziti`)
	assert.Regexp(t, `ztedge tunnel\s+pid \d+\s+listens on 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+ \(loopback only\)`, got)
	assert.Regexp(t, `curl -s -x http://127\.0\.0\.1:\d+ http://core-data\.edgex\.ziti/api/v3/ping\n\s+200 `, got)
	assert.Contains(t, got, `403 ztedge tunnel: identity "operator" may not dial the ziti service "edgex.device-virtual"`)
	assert.NotContains(t, got, "ziti tunnel proxy")
}
