package doctor_test

// "ztedge status" and "ztedge provision graph" on the real stack. They are
// tested here to share the stack and the provisioned topology of the
// doctor's tests.

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/internal/naming"
)

func TestIntegrationStatus(t *testing.T) {
	e := provisioned(t)
	e.serve(t, "svc-b")
	// The controller learns of router connections from the router's
	// reports: wait until svc-b's shows.
	start := time.Now()
	var st *inspect.Status
	for {
		var err error
		st, err = inspect.Collect(e.ctx(t), e.top, e.quietLog)
		require.NoError(t, err)
		if st.Services[1].Identity.RouterConnected || time.Since(start) > 30*time.Second {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("svc-b showed as connected to its router %s after it bound", time.Since(start).Round(10*time.Millisecond))
	var text bytes.Buffer
	_, _ = st.WriteTo(&text)
	t.Log("\n" + text.String())

	assert.True(t, st.Controller.Reachable, st.Controller.Error)
	assert.True(t, st.Vault.Reachable, st.Vault.Error)
	assert.False(t, st.Vault.Sealed)
	assert.Equal(t, "ES384", st.Vault.Key.Algorithm)
	assert.Equal(t, []string{"edgex"}, st.Vault.Key.AllowedClientIDs)
	assert.GreaterOrEqual(t, st.Vault.Key.PublishedKeys, 1)
	assert.True(t, st.Signer.Present && st.Signer.Enabled && st.Signer.MatchesVault, "%+v", st.Signer)
	require.NotEmpty(t, st.Routers)
	assert.True(t, st.Routers[0].Online)

	require.Len(t, st.Services, 3)
	b := st.Services[1]
	assert.Equal(t, "svc-b", b.Name)
	assert.True(t, b.Bound, "svc-b serves")
	assert.Equal(t, []string{st.Routers[0].Name}, b.Routers)
	assert.True(t, b.Identity.Authenticated, "svc-b authenticated")
	c := st.Services[2]
	assert.False(t, c.Bound)
	assert.Empty(t, c.Routers)
	assert.Contains(t, st.Problems, "svc-c is not bound: it is not running, or cannot bind (ztedge doctor -f TOPOLOGY svc-c says why)")

	raw, err := json.Marshal(st)
	require.NoError(t, err)
	var back inspect.Status
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, st.Services[1].Routers, back.Services[1].Routers)
}

// TestIntegrationGraphIsTheLivePolicy checks the picture's arrows against
// the controller's policy advisor, pair by pair, and boxes the running
// service by the router it is bound on.
func TestIntegrationGraphIsTheLivePolicy(t *testing.T) {
	e := provisioned(t)
	e.serve(t, "svc-b")
	ctrl := inspect.NewController(e.api)
	g := e.top.Graph()
	arrows := map[[2]string]bool{}
	for _, a := range g.Edges {
		arrows[[2]string{a.From, a.To}] = true
	}
	for _, from := range g.Nodes {
		id, err := ctrl.Identity(e.ctx(t), from.Name)
		require.NoError(t, err)
		require.NotNil(t, id, from.Name)
		for _, to := range e.top.Services {
			svc, err := ctrl.Service(e.ctx(t), naming.ZitiService(to.Name))
			require.NoError(t, err)
			advice, err := ctrl.Advice(e.ctx(t), id.ID, svc.ID)
			require.NoError(t, err)
			assert.Equal(t, advice.DialAllowed, arrows[[2]string{from.Name, to.Name}], "%s -> %s", from.Name, to.Name)
		}
	}

	names := make([]string, len(e.top.Services))
	for i, s := range e.top.Services {
		names[i] = s.Name
	}
	placed, err := ctrl.BoundRouters(e.ctx(t), names)
	require.NoError(t, err)
	require.Len(t, placed, 1, "only svc-b runs")
	g.Place(placed)
	var dot bytes.Buffer
	require.NoError(t, g.WriteDOT(&dot))
	assert.Contains(t, dot.String(), `label="router `+placed["svc-b"]+`"`)
	assert.True(t, slices.ContainsFunc(g.Nodes, func(n provisioningNode) bool { return n.Name == "svc-b" && n.Router != "" }))
}
