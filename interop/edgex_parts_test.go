package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

// storeAndReadSecret stores a secret through EdgeX's own secret API
// (POST /api/v3/secret), reads it back through EdgeX's secret provider, and
// checks that it sits where EdgeX put it: secret/edgex/edgex-probe/db, in
// KV version 1 form.
func storeAndReadSecret(t *testing.T, ctx context.Context, client *http.Client, base string, root *vaultapi.Client) {
	body := `{"apiVersion":"v3","secretName":"db","secretData":[{"key":"username","value":"probe"},{"key":"password","value":"s3cret"}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v3/secret", bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	var got struct {
		Data map[string]string `json:"data"`
	}
	require.NoError(t, getJSON(ctx, client, base+"/api/v3/probe/secret/db", &got))
	assert.Equal(t, map[string]string{"username": "probe", "password": "s3cret"}, got.Data)

	data, err := vault.Read(ctx, root, "secret/edgex/edgex-probe/db")
	require.NoError(t, err)
	assert.Equal(t, "probe", data["username"], "KV version 1: the fields at the top level")
}

// tokenMode runs the EdgeX probe and a ztedge core-data in token mode (no
// overlay: TCP on loopback, a Vault JWT on every request) and shows that
// each accepts the other's JWTs: EdgeX introspects ztedge's (its issuer is
// EdgeX's "/v1/identity/oidc"), ztedge verifies EdgeX's against Vault's
// keys.
func tokenMode(t *testing.T, bin string, top *provisioning.Topology, out string, seen *counts) {
	ctx := context.Background()
	probePort, corePort := freePort(t), freePort(t)
	coreData := serve(t, &zerotrust.Config{
		Service: zerotrust.ServiceConfig{Name: "core-data", Host: "127.0.0.1", Port: corePort,
			SecurityOptions: zerotrust.SecurityOptions{zerotrust.KeyCredentials: credentials.Path(out, "core-data")}},
		Clients: map[string]zerotrust.ClientConfig{"edgex-probe": {Host: "127.0.0.1", Port: probePort}},
	}, coreDataAPI(seen))
	client := coreData.HTTPClient()
	base := fmt.Sprintf("http://127.0.0.1:%d", probePort)

	secretStore, err := top.EdgeXSecretStoreEnv("edgex-probe")
	require.NoError(t, err)
	var env []string
	for _, e := range secretStore {
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env, envList(
		"SERVICE_HOST", "127.0.0.1", "SERVICE_PORT", fmt.Sprint(probePort),
		"CLIENTS_CORE_DATA_HOST", "127.0.0.1", "CLIENTS_CORE_DATA_PORT", fmt.Sprint(corePort))...)
	p := startProbe(t, bin, env)
	p.eventually(t, 60*time.Second, "the EdgeX service answers ping on its port", func() error {
		code, _, err := getStatus(ctx, http.DefaultClient, base+"/api/v3/ping")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})

	t.Run("EdgeX accepts a ztedge service's JWT (issuer /v1/identity/oidc, introspected by Vault)", func(t *testing.T) {
		var got map[string]string
		require.NoError(t, getJSON(ctx, client, base+"/api/v3/probe/caller", &got))
		assert.Equal(t, map[string]string{"caller": "core-data", "via": "jwt"}, got)
	})

	t.Run("EdgeX refuses a request without a JWT", func(t *testing.T) {
		code, _, err := getStatus(ctx, http.DefaultClient, base+"/api/v3/probe/caller")
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, code)
	})

	t.Run("ztedge accepts EdgeX's JWT, verified against Vault's keys", func(t *testing.T) {
		var got map[string]any
		require.NoError(t, getJSON(ctx, client, base+"/api/v3/probe/core-data", &got))
		assert.Equal(t, float64(42), got["count"])
		assert.Equal(t, "edgex-probe", seen.last(), "the verified name claim of EdgeX's JWT")
	})

	t.Run("ztedge refuses EdgeX's call without a JWT", func(t *testing.T) {
		code, body, err := getStatus(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/api/v3/reading/count", corePort))
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, code, body)
	})
	p.stop()
}
