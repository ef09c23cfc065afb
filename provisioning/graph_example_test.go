package provisioning_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ztedge/ztedge/provisioning"
)

// Who may dial whom, as a Mermaid flowchart for a Markdown page.
func ExampleTopology_Graph() {
	top, err := provisioning.Parse([]byte(`
vault: {address: "http://127.0.0.1:8200"}
ziti: {controller: "127.0.0.1:1280"}
output: /tmp/ztedge-out
services:
  - {name: core-data, groups: [core]}
  - {name: core-metadata, groups: [core]}
  - {name: device-virtual, groups: [devices]}
dial:
  - from: [group:devices]
    to: [group:core]
`))
	if err == nil {
		err = top.Validate()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = top.Graph().WriteMermaid(os.Stdout)
	fmt.Println(top.PermittingRules("device-virtual", "core-data"), top.DescribeRule(0))
	// Output:
	// flowchart LR
	//   subgraph g1["group:core"]
	//     n_core_data["core-data"]
	//     n_core_metadata["core-metadata"]
	//   end
	//   subgraph g2["group:devices"]
	//     n_device_virtual["device-virtual"]
	//   end
	//   n_device_virtual --> n_core_data
	//   n_device_virtual --> n_core_metadata
	// [0] dial[0] (from [group:devices] to [group:core])
}

// A picture needs only what the file declares: no environment variable
// has to be set and nothing is contacted.
func ExampleLoadDeclarations() {
	top, err := provisioning.LoadDeclarations("../examples/topology.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := top.Graph()
	fmt.Println(len(g.Nodes), "nodes,", len(g.Edges), "arrows")
	// Output: 6 nodes, 11 arrows
}

// Tools that read what is live log in the way provisioning does.
func ExampleZitiManagement() {
	top, err := provisioning.LoadFile("topology.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	api, err := provisioning.ZitiManagement(context.Background(), top, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = api // e.g. inspect.NewController(api) in ztedge's own tools
}
