package provisioning

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateRoutersNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Topology)
		want   string
	}{
		{"missing name", func(t *Topology) { t.Routers[0].Name = "" }, "routers[0].name: missing"},
		{"bad name", func(t *Topology) { t.Routers[0].Name = "Node_A" }, `routers[0].name: "Node_A" is not a valid name`},
		{"twice", func(t *Topology) { t.Routers[1].Name = "node-a" }, `routers[1].name: router "node-a" is declared twice`},
		{"named like a service", func(t *Topology) { t.Routers[0].Name = "alpha" }, `routers[0].name: "alpha" is already the name of a service`},
		{"named like a client", func(t *Topology) { t.Routers[0].Name = "laptop" }, `routers[0].name: "laptop" is already the name of a client`},
		{"attribute with #", func(t *Topology) { t.Routers[0].Attributes = []string{"#x"} }, `routers[0].attributes[0]: "#x" is not a valid attribute`},
		{"attribute twice", func(t *Topology) { t.Routers[0].Attributes = []string{"x", "x"} }, `routers[0].attributes[1]: "x" is listed twice`},
		{"no advertise", func(t *Topology) { t.Routers[0].Advertise = "" }, "routers[0].advertise: missing"},
		{"advertise any", func(t *Topology) { t.Routers[0].Advertise = "0.0.0.0" }, `routers[0].advertise: "0.0.0.0" is not an address others can dial`},
		{"advertise with port", func(t *Topology) { t.Routers[0].Advertise = "node-a:3022" }, `routers[0].advertise: "node-a:3022" is not a valid host name or IP address`},
		{"port", func(t *Topology) { t.Routers[0].Port = 70000 }, "routers[0].port: 70000 is out of range"},
		{"link port", func(t *Topology) { t.Routers[0].LinkPort = -1 }, "routers[0].linkPort: -1 is out of range"},
		{"unknown router", func(t *Topology) { t.Services[0].Routers = []string{"node-c"} }, `services[0].routers[0]: unknown router "node-c" (declare it under routers, or write #attribute`},
		{"bad attribute", func(t *Topology) { t.Clients[0].Routers = []string{"#Bad"} }, `clients[0].routers[0]: "#Bad" is not a valid router attribute`},
		{"pin twice", func(t *Topology) { t.Services[0].Routers = []string{"node-a", "node-a"} }, `services[0].routers[1]: "node-a" is listed twice`},
		{"router as dialer", func(t *Topology) { t.Dial[0].From = []string{"node-a"} }, `dial[0].from[0]: unknown service or client "node-a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top := parsePinned(t)
			tc.mutate(top)
			err := top.Validate()
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidateRoutersAcceptsNamesAndAddresses(t *testing.T) {
	top := parsePinned(t)
	for _, a := range []string{"198.18.0.2", "2001:db8::2", "node-a", "node-a.example.net"} {
		top.Routers[0].Advertise = a
		assert.NoError(t, top.Validate(), a)
	}
	top.Routers[0].LinkPort = 10080
	assert.NoError(t, top.Validate())
	top.Routers[0].LinkPort = top.Routers[0].Port
	assert.NoError(t, top.Validate(), "links and SDKs may share the edge port")
}
