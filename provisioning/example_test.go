package provisioning_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ztedge/ztedge/provisioning"
)

// A topology is validated before anything is touched; every problem names
// its field.
func ExampleTopology_Validate() {
	top, err := provisioning.Parse([]byte(`
vault: {address: "http://127.0.0.1:8200"}
ziti: {controller: "127.0.0.1:1280"}
output: /tmp/ztedge-out
services:
  - name: core-data
  - name: Core_Metadata
dial:
  - from: [device-virtual]
    to: [core-data]
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(top.Validate())
	// Output:
	// invalid topology:
	//   - services[1].name: "Core_Metadata" is not a valid name (2 to 63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen)
	//   - dial[0].from[0]: unknown service or client "device-virtual"
}

// Plan, then apply: the second apply of the same file changes nothing.
func ExampleNew() {
	ctx := context.Background()
	top, err := provisioning.LoadFile("topology.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	p, err := provisioning.New(ctx, top, slog.Default())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	plan, err := p.Plan(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	_, _ = plan.WriteTo(os.Stdout)
	if _, err := p.Apply(ctx, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
