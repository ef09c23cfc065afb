package zerotrust_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

// identityConfig is a zerotrust service that joins with the identity file
// provisioning enrolled for it, without Vault credentials.
func identityConfig(t *testing.T, name, identityFile string, peers ...string) *zerotrust.Config {
	t.Helper()
	cfg := &zerotrust.Config{
		Service: zerotrust.ServiceConfig{Name: name, SecurityOptions: zerotrust.SecurityOptions{
			zerotrust.KeyMode:         "zerotrust",
			zerotrust.KeyIdentityFile: identityFile,
		}},
		Clients: map[string]zerotrust.ClientConfig{},
	}
	for _, p := range peers {
		cfg.Clients[p] = zerotrust.ClientConfig{SecurityOptions: zerotrust.SecurityOptions{zerotrust.KeyMode: "zerotrust"}}
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestIntegrationIdentityFileOnboarding(t *testing.T) {
	st := stacktest.Shared(t)
	top := topotest.Provision(t, st, topologyFile, func(top *provisioning.Topology) {
		for i := range top.Services {
			if top.Services[i].Name == "core-metadata" {
				top.Services[i].Auth = provisioning.AuthIdentity
			}
		}
	})
	idFile := credentials.IdentityPath(top.Output, "core-metadata")

	whoAmI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := caller.From(r.Context())
		fmt.Fprintf(w, "you are %s", c.Name)
	})
	serve(t, identityConfig(t, "core-metadata", idFile, "core-data"), whoAmI)

	t.Run("a JWT service calls the service that joined with an identity file, which sees its caller", func(t *testing.T) {
		device := startService(t, zeroTrustConfig(t, st, top, "device-virtual", "core-metadata"))
		var body string
		require.Eventually(t, func() bool {
			resp, err := device.HTTPClient().Get("http://core-metadata.edgex.ziti/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		}, 30*time.Second, 250*time.Millisecond)
		assert.Equal(t, "you are device-virtual", body)
	})

	t.Run("the same dial policies apply to it", func(t *testing.T) {
		md := startService(t, identityConfig(t, "core-metadata", idFile, "core-data"))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://core-data.edgex.ziti/", nil)
		require.NoError(t, err)
		_, err = md.HTTPClient().Do(req)
		assert.Error(t, err, "no dial rule lets core-metadata call core-data")
	})

	t.Run("another service's identity file is refused", func(t *testing.T) {
		cfg := identityConfig(t, "core-command", idFile)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: quietLogger()})
		assert.ErrorContains(t, err, `is the identity "core-metadata", not this service's ("core-command")`)
	})

	t.Run("an identity file others may read is refused", func(t *testing.T) {
		data, err := os.ReadFile(idFile)
		require.NoError(t, err)
		open := filepath.Join(t.TempDir(), "core-metadata.json")
		require.NoError(t, os.WriteFile(open, data, 0o644))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = zerotrust.New(ctx, identityConfig(t, "core-metadata", open), zerotrust.Options{Logger: quietLogger()})
		assert.ErrorContains(t, err, "OpenZitiIdentityFile")
	})
}
