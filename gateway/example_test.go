package gateway_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ztedge/ztedge/gateway"
)

// Render turns a Config into nginx.conf; Start would also write it, check
// it with "nginx -t" and run nginx.
func ExampleRender() {
	conf, err := gateway.Render(gateway.Config{
		Listen:   "127.0.0.1:8443",
		StateDir: "/var/lib/ztedge/gateway",
		AuthURL:  "http://127.0.0.1:59842",
		Services: map[string]string{"core-data": "http://127.0.0.1:59880"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The route of core-data.
	s := string(conf)
	start := strings.Index(s, "        location /core-data/")
	end := start + strings.Index(s[start:], "}\n") + 2
	fmt.Print(s[start:end])
	// Output:
	//         location /core-data/ {
	//             auth_request /auth;
	//             auth_request_set $ztedge_caller $upstream_http_x_ztedge_caller;
	//             proxy_pass http://127.0.0.1:59880/;
	//             proxy_set_header Host $proxy_host;
	//             proxy_set_header X-Ztedge-Caller $ztedge_caller;
	//             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
	//             proxy_set_header X-Forwarded-Proto $scheme;
	//             proxy_set_header X-Forwarded-Prefix /core-data;
	//         }
}

// A bad configuration is refused with every problem named.
func ExampleConfig_Validate() {
	cfg := gateway.Config{
		StateDir: "relative/dir",
		Services: map[string]string{"Core_Data": "http://127.0.0.1:59880", "core-metadata": "ftp://127.0.0.1"},
	}
	cfg.SetDefaults()
	fmt.Println(cfg.Validate())
	// Output:
	// gateway: stateDir "relative/dir" must be an absolute path
	// services: name "Core_Data" must be 2-63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen
	// services.core-metadata: upstream "ftp://127.0.0.1": must be an http:// or https:// URL, or zerotrust:<service> for a service in zerotrust mode
}

// A service in zerotrust mode is reached over the Ziti overlay as the
// gateway's own identity: its route goes to an upstream block whose server
// is the gateway's loopback forwarder, opened by "ztedge gateway run"
// (package gateway/overlay), which fills in OverlayAddrs.
func ExampleConfig_OverlayUpstreams() {
	cfg := gateway.Config{
		StateDir:     "/var/lib/ztedge/gateway",
		ZitiIdentity: "/etc/ztedge/clients/gateway.json",
		Services: map[string]string{
			"core-data":     "zerotrust:core-data",
			"core-metadata": "http://127.0.0.1:59881",
		},
		OverlayAddrs: map[string]netip.AddrPort{"core-data": netip.MustParseAddrPort("127.0.0.1:41000")},
	}
	fmt.Println(cfg.OverlayUpstreams())
	conf, err := gateway.Render(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := string(conf)
	start := strings.Index(s, "    upstream ")
	end := start + strings.Index(s[start:], "}\n") + 2
	fmt.Print(s[start:end])
	// Output:
	// [{core-data core-data}]
	//     upstream ztedge_overlay_core-data {
	//         server 127.0.0.1:41000;
	//         keepalive 8;
	//         keepalive_timeout 60s;
	//     }
}
