package provisioning

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeManagement is a management API that accepts every DELETE.
func fakeManagement(t *testing.T) *mgmt.ZitiEdgeManagement {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{},"meta":{}}`))
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return mgmt.NewHTTPClientWithConfig(nil, mgmt.DefaultTransportConfig().WithHost(u.Host).WithSchemes([]string{"http"}))
}

// A managed identity on the controller whose name is a path (made by
// whoever can write to the controller) must not make provisioning touch
// files outside <output>/clients.
func TestIdentityNamesFromTheControllerNeverLeaveTheClientsFolder(t *testing.T) {
	base := t.TempDir()
	output := filepath.Join(base, "out")
	require.NoError(t, os.MkdirAll(filepath.Join(output, "clients"), 0o700))
	victim := filepath.Join(base, "victim.json")
	require.NoError(t, os.WriteFile(victim, []byte("{}"), 0o600))

	top := parseValid(t)
	top.Output = output
	z := newZitiSideWith(fakeManagement(t), top, nil)
	err := identityKind{}.remove(context.Background(), z, zitiObject[identitySpec]{Name: "../../victim", ID: "x", Managed: true})
	require.NoError(t, err)
	assert.FileExists(t, victim, "destroying a managed identity named ../../victim deleted a file outside the output folder")
}
