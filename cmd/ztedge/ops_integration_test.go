package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/topotest"
	"github.com/ztedge/ztedge/zerotrust"
)

// TestIntegrationOperatorCommands runs doctor, status and graph as an
// operator would, on the example topology with core-data running.
func TestIntegrationOperatorCommands(t *testing.T) {
	st := stacktest.Shared(t)
	const topology = "../../examples/topology.yaml"
	top := topotest.Provision(t, st, topology, nil)

	cfg := &zerotrust.Config{Service: zerotrust.ServiceConfig{Name: "core-data", SecurityOptions: zerotrust.SecurityOptions{
		zerotrust.KeyMode:         "zerotrust",
		zerotrust.KeyController:   st.ControllerURL,
		zerotrust.KeyControllerCA: st.ZitiCAFile,
		zerotrust.KeyCredentials:  credentials.Path(top.Output, "core-data"),
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{OnServing: func(net.Addr, net.Addr) { close(ready) }})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, http.NotFoundHandler()) }()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("core-data stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("core-data did not bind")
	}

	t.Run("doctor: device-virtual may reach core-data, and by which rule", func(t *testing.T) {
		code, out, stderr := runCLI(t, "doctor", "-f", topology, "device-virtual", "core-data")
		t.Log("\n" + out)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, out, "allowed by dial[0] (from [group:devices] to [core-data, core-metadata])")
		assert.Contains(t, out, "Every link holds.")
	})
	t.Run("doctor: core-metadata is not running", func(t *testing.T) {
		code, out, stderr := runCLI(t, "doctor", "-f", topology, "core-metadata")
		t.Log("\n" + out)
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "FAIL  bound")
		assert.Contains(t, stderr, "ztedge: a link is broken (see above)")
	})
	t.Run("status -o json", func(t *testing.T) {
		code, out, _ := runCLI(t, "status", "-f", topology, "-o", "json")
		assert.Equal(t, 1, code, "services that do not run are problems")
		var s inspect.Status
		require.NoError(t, json.Unmarshal([]byte(out), &s))
		require.Len(t, s.Services, 5)
		assert.True(t, s.Services[0].Bound, "core-data is bound")
		assert.False(t, s.Services[1].Bound, "core-metadata is not")
		_, text, _ := runCLI(t, "status", "-f", topology)
		t.Log("\n" + text)
	})
	t.Run("provision graph -routers", func(t *testing.T) {
		code, out, stderr := runCLI(t, "provision", "graph", "-f", topology, "-routers")
		t.Log("\n" + out)
		require.Equal(t, 0, code, stderr)
		assert.Regexp(t, `subgraph g1\["router [^"]+"\]\n    subgraph g2\["group:core"\]\n      n_core_data\["core-data"\]`, out)
	})
}
