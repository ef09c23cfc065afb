//go:build linux

package multihost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ztedge/ztedge/internal/testhosts"
)

// Router is an edge router that runs on a node.
type Router struct {
	// Name is the router's name on the controller.
	Name string
	// Node is the host it runs on; it advertises Node.Addr(RouterPort).
	Node *testhosts.Host
	// Config is its configuration file, next to its identity files.
	Config string
	// Process is the running "ziti router run".
	Process *testhosts.Process
}

// JoinRouter adds an edge router named name on node, with role attributes
// attrs, and waits until the controller sees it online. The steps:
//
//  1. on the hub: ziti edge create edge-router NAME -t -a ATTRS -o NAME.jwt
//     (tunneler-enabled; the one-time enrollment token goes to the node)
//  2. on the node: ziti create config router edge --routerName NAME, with
//     ZITI_HOME (where its identity files go), ZITI_CTRL_ADVERTISED_ADDRESS
//     and _PORT (the controller), ZITI_ROUTER_IP_OVERRIDE (its IP SAN) and
//     ZITI_ROUTER_ADVERTISED_ADDRESS (what SDKs and other routers dial)
//  3. on the node: ziti router enroll NAME.yaml --jwt NAME.jwt --keyAlg EC
//     (makes a key, gets certificates from the controller; the default
//     RSA-4096 key alone takes about 2 s on this machine)
//  4. on the node: ziti router run NAME.yaml
//
// The router listens on all of the node's addresses: RouterPort for SDKs,
// LinkPort for links from other routers.
func (hub *Hub) JoinRouter(ctx context.Context, node *testhosts.Host, name string, attrs ...string) (*Router, error) {
	dir := filepath.Join(node.Dir, "router-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	jwt := filepath.Join(dir, name+".jwt")
	r := &Router{Name: name, Node: node, Config: filepath.Join(dir, name+".yaml")}

	args := []string{"edge", "create", "edge-router", name, "--tunneler-enabled", "--jwt-output-file", jwt}
	if len(attrs) > 0 {
		args = append(args, "--role-attributes", strings.Join(attrs, ","))
	}
	if _, err := hub.CLI(ctx, args...); err != nil {
		return nil, fmt.Errorf("join router %s: %w", name, err)
	}

	ip := node.IP.String()
	cfg := node.Command(ctx, hub.zitiBin, "create", "config", "router", "edge", "--routerName", name, "--output", r.Config)
	cfg.Env = append(cfg.Env,
		"ZITI_HOME="+dir,
		"ZITI_CTRL_ADVERTISED_ADDRESS="+hub.Host.IP.String(),
		"ZITI_CTRL_ADVERTISED_PORT="+strconv.Itoa(ControllerPort),
		"ZITI_ROUTER_IP_OVERRIDE="+ip,
		"ZITI_ROUTER_ADVERTISED_ADDRESS="+ip,
		"ZITI_ROUTER_PORT="+strconv.Itoa(RouterPort),
		"ZITI_ROUTER_LISTENER_BIND_PORT="+strconv.Itoa(LinkPort),
	)
	if out, err := cfg.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("join router %s: create its config on %s: %w\n%s", name, node.Name, err, out)
	}

	if _, err := node.Run(ctx, hub.zitiBin, "router", "enroll", r.Config, "--jwt", jwt, "--keyAlg", "EC"); err != nil {
		return nil, fmt.Errorf("join router %s: %w", name, err)
	}

	run := node.Command(context.Background(), hub.zitiBin, "router", "run", r.Config)
	p, err := node.Start("router-"+name, run)
	if err != nil {
		return nil, err
	}
	r.Process = p
	if err := hub.WaitRouterOnline(ctx, name); err != nil {
		return nil, fmt.Errorf("join router %s: %w; %s", name, err, p.LogTail(20))
	}
	return r, nil
}

// EnrollIdentity creates an identity named name with role attributes attrs
// on the controller, and enrolls it on node with its one-time token. It
// returns the path of the identity file (JSON with key and certificates)
// that an SDK on node loads. Keys are EC, as for routers (faster).
func (hub *Hub) EnrollIdentity(ctx context.Context, node *testhosts.Host, name string, attrs ...string) (string, error) {
	jwt := filepath.Join(node.Dir, name+".jwt")
	file := filepath.Join(node.Dir, name+".json")
	args := []string{"edge", "create", "identity", name, "--jwt-output-file", jwt}
	if len(attrs) > 0 {
		args = append(args, "--role-attributes", strings.Join(attrs, ","))
	}
	if _, err := hub.CLI(ctx, args...); err != nil {
		return "", fmt.Errorf("enroll identity %s: %w", name, err)
	}
	if _, err := node.Run(ctx, hub.zitiBin, "edge", "enroll", "--jwt", jwt, "--out", file, "--rm", "--keyAlg", "EC"); err != nil {
		return "", fmt.Errorf("enroll identity %s: %w", name, err)
	}
	return file, nil
}
