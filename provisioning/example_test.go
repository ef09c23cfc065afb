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
	// provisioning: invalid topology:
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

// Routers of a deployment across hosts, with services pinned to them by
// name or by attribute; pins name declared routers or "#attribute".
func ExampleRouter() {
	top, err := provisioning.Parse([]byte(`
vault: {address: "http://198.51.100.1:8200"}
ziti: {controller: "198.51.100.1:1280"}
output: /tmp/ztedge-out
routers:
  - {name: node-a, attributes: [node-a], advertise: 198.51.100.10}
  - {name: node-b, attributes: [node-b], advertise: 0.0.0.0}
services:
  - {name: core-data, routers: [node-a]}
  - {name: device-modbus, routers: ["#node-b"]}
  - {name: app-rules, routers: [node-c]}
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(top.Routers[0].Name, top.Routers[0].Advertise, top.Routers[0].Port)
	fmt.Println(top.Validate())
	// Output:
	// node-a 198.51.100.10 3022
	// provisioning: invalid topology:
	//   - services[2].routers[0]: unknown router "node-c" (declare it under routers, or write #attribute for routers by attribute)
	//   - routers[1].advertise: "0.0.0.0" is not an address others can dial
}

// The environment an unmodified EdgeX 4 service needs on the topology's
// network: its secret store (Vault, the token file provisioning writes),
// zerotrust mode, and one client per service it may dial.
func ExampleTopology_EdgeXEnv() {
	top, err := provisioning.Parse([]byte(`
vault: {address: "http://127.0.0.1:8200"}
ziti: {controller: "127.0.0.1:1280"}
output: /srv/ztedge
services:
  - name: core-data
  - name: core-command
    edgex: true
dial:
  - from: [core-command]
    to: [core-data]
`))
	if err != nil {
		panic(err)
	}
	if err := top.Validate(); err != nil {
		panic(err)
	}
	env, err := top.EdgeXEnv("core-command")
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(provisioning.FormatEnv(env))
	// Output:
	// EDGEX_SECURITY_SECRET_STORE=true
	// SECRETSTORE_TYPE=openbao
	// SECRETSTORE_PROTOCOL=http
	// SECRETSTORE_HOST=127.0.0.1
	// SECRETSTORE_PORT=8200
	// SECRETSTORE_TOKENFILE=/srv/ztedge/services/core-command/secrets-token.json
	// SERVICE_SECURITYOPTIONS_MODE=zerotrust
	// SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280
	// CLIENTS_CORE_DATA_PROTOCOL=http
	// CLIENTS_CORE_DATA_HOST=core-data.edgex.ziti
	// CLIENTS_CORE_DATA_PORT=80
	// CLIENTS_CORE_DATA_SECURITYOPTIONS_MODE=zerotrust
	// CLIENTS_CORE_DATA_SECURITYOPTIONS_OPENZITICONTROLLER=https://127.0.0.1:1280
}
