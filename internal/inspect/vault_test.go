package inspect

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/provisioning"
)

func TestASealedVaultIsReportedAsSealed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/sys/health" {
			_, _ = io.WriteString(w, `{"initialized":true,"sealed":true,"standby":false,"version":"1.21.0"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":["Vault is sealed"]}`)
	}))
	defer srv.Close()
	t.Setenv("VAULT_TOKEN", "x")
	top := &provisioning.Topology{Vault: provisioning.VaultSettings{Address: srv.URL, Key: "ztedge"}}
	st := &Status{Problems: []string{}}
	collectVault(context.Background(), top, st)
	assert.True(t, st.Vault.Sealed, "sealed")
	assert.Len(t, st.Problems, 1)
	assert.Contains(t, strings.Join(st.Problems, "\n"), "Vault is sealed")
	var b strings.Builder
	st.Vault.Address = srv.URL
	_, _ = st.WriteTo(&b)
	assert.Contains(t, b.String(), "SEALED")
}
