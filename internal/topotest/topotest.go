// Package topotest provisions topologies on a test stack for integration tests.
package topotest

import (
	"context"
	"testing"
	"time"

	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/provisioning"
)

// Provision loads a topology file against stack st (see stacktest.TopologyEnv),
// lets edit change it, and applies it. The topology's output goes to a
// temporary folder of t.
func Provision(t testing.TB, st *stack.State, topologyFile string, edit func(*provisioning.Topology)) *provisioning.Topology {
	t.Helper()
	return ProvisionTo(t, st, topologyFile, t.TempDir(), edit)
}

// ProvisionTo is Provision with the output folder given, for setups that
// outlive the test that makes them.
func ProvisionTo(t testing.TB, st *stack.State, topologyFile, output string, edit func(*provisioning.Topology)) *provisioning.Topology {
	t.Helper()
	for k, v := range stacktest.TopologyEnv(st, output) {
		t.Setenv(k, v)
	}
	top, err := provisioning.LoadFile(topologyFile)
	if err != nil {
		t.Fatalf("loading %s: %v", topologyFile, err)
	}
	if edit != nil {
		edit(top)
		if err := top.Validate(); err != nil {
			t.Fatalf("edited topology: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := provisioning.New(ctx, top, nil)
	if err != nil {
		t.Fatalf("connecting to Vault and the controller: %v", err)
	}
	if _, err := p.Apply(ctx, nil); err != nil {
		t.Fatalf("applying the topology: %v", err)
	}
	return top
}
