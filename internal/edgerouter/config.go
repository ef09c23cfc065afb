// Package edgerouter sets up an OpenZiti edge router on the node it runs
// on: it writes the router's configuration file, enrolls the router once
// with its one-time token (through "ziti router enroll"), and builds the
// "ziti router run" command. It is what "ztedge router join" does.
//
// The configuration binds every listener to one address (never 0.0.0.0):
// the edge listener for SDKs, a link listener only when asked for, and
// no other port. Without a link listener the router dials its links to
// routers that have one.
package edgerouter

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config describes one edge router on this node.
type Config struct {
	// Name is the router's name on the controller.
	Name string
	// Dir is the router's folder: its configuration, key, certificates
	// and the controller endpoints file. Mode 0700.
	Dir string
	// Controller is the controller's control-plane address, host:port.
	Controller string
	// Advertise is the host name or IP address SDKs and routers dial.
	Advertise string
	// Bind is the IP address the listeners bind to.
	Bind netip.Addr
	// Port is the edge listener's port.
	Port int
	// LinkPort is the link listener's port; 0 opens none. It may be Port:
	// ziti then serves SDKs and links on one port.
	LinkPort int
	// Tunneler adds the router's tunneler in host mode (it hosts
	// services for the router's identity; it intercepts nothing).
	Tunneler bool
}

// ConfigFile is the router's configuration file in Dir.
func (c Config) ConfigFile() string { return filepath.Join(c.Dir, "router.yaml") }

// Identity files, named as "ziti create config router" names them.
func (c Config) certFile() string       { return filepath.Join(c.Dir, c.Name+".cert") }
func (c Config) serverCertFile() string { return filepath.Join(c.Dir, c.Name+".server.chain.cert") }
func (c Config) keyFile() string        { return filepath.Join(c.Dir, c.Name+".key") }
func (c Config) caFile() string         { return filepath.Join(c.Dir, c.Name+".cas") }

// Validate checks the fields Render needs.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("edgerouter: no router name")
	case c.Dir == "" || !filepath.IsAbs(c.Dir):
		return fmt.Errorf("edgerouter: router folder %q must be an absolute path", c.Dir)
	case !validAdvertise(c.Advertise):
		return fmt.Errorf("edgerouter: router %s: advertised address %q is not a host name or an IP address others can dial", c.Name, c.Advertise)
	case !c.Bind.IsValid() || c.Bind.IsUnspecified():
		return fmt.Errorf("edgerouter: router %s: no address to bind to (0.0.0.0 and :: are refused: give the node's address)", c.Name)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("edgerouter: router %s: edge port %d is out of range (1 to 65535)", c.Name, c.Port)
	case c.LinkPort < 0 || c.LinkPort > 65535:
		return fmt.Errorf("edgerouter: router %s: link port %d is out of range (1 to 65535, or 0 for none)", c.Name, c.LinkPort)
	}
	if !validHostPort(c.Controller) {
		return fmt.Errorf("edgerouter: router %s: controller address %q is not host:port", c.Name, c.Controller)
	}
	return nil
}

// hostNameRE is a DNS host name: dot-separated labels of letters, digits
// and hyphens.
var hostNameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validAdvertise reports whether a is a host name or a unicast IP address.
func validAdvertise(a string) bool {
	if ip, err := netip.ParseAddr(a); err == nil {
		return !ip.IsUnspecified() && !ip.IsMulticast() && ip.Zone() == ""
	}
	return len(a) <= 253 && hostNameRE.MatchString(a)
}

// validHostPort reports whether s is host:port with a host name or IP
// address and a port from 1 to 65535.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, "/@?#") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// routerYAML is the part of the router's configuration file ztedge
// writes (format version 3, as ziti 1.x reads it).
type routerYAML struct {
	V        int            `yaml:"v"`
	Identity identityYAML   `yaml:"identity"`
	Ctrl     ctrlYAML       `yaml:"ctrl"`
	Link     linkYAML       `yaml:"link"`
	Listen   []listenerYAML `yaml:"listeners"`
	Edge     edgeYAML       `yaml:"edge"`
}

type identityYAML struct {
	Cert       string `yaml:"cert"`
	ServerCert string `yaml:"server_cert"`
	Key        string `yaml:"key"`
	CA         string `yaml:"ca"`
}

type ctrlYAML struct {
	Endpoint string `yaml:"endpoint"`
}

type linkYAML struct {
	Dialers   []dialerYAML        `yaml:"dialers"`
	Listeners []map[string]string `yaml:"listeners,omitempty"`
}

// dialerYAML is the router's link dialer. Its backoffs replace ziti's
// defaults, under which a link whose peer was unreachable for a while (a
// cut cable) is dialed again only after up to a minute (unhealthy: from
// 1 minute, times 10 each failure) or tens of seconds (healthy: 5 s times
// 1.5, up to 5 minutes): services across that link stayed unreachable
// 6 to 21 s after the cable was back (docs/reliability.md).
type dialerYAML struct {
	Binding   string      `yaml:"binding"`
	Healthy   backoffYAML `yaml:"healthyDialBackoff"`
	Unhealthy backoffYAML `yaml:"unhealthyDialBackoff"`
}

type backoffYAML struct {
	Factor float64 `yaml:"retryBackoffFactor"`
	Min    string  `yaml:"minRetryInterval"`
	Max    string  `yaml:"maxRetryInterval"`
}

// linkDialer dials links again at most linkRedialMax after the last
// attempt, so a link is back within seconds of its peer.
var linkDialer = dialerYAML{
	Binding:   "transport",
	Healthy:   backoffYAML{Factor: 1.5, Min: "1s", Max: linkRedialMax},
	Unhealthy: backoffYAML{Factor: 2, Min: "2s", Max: linkRedialMax},
}

// linkRedialMax is the longest pause between two dials of a link.
const linkRedialMax = "5s"

type listenerYAML struct {
	Binding string            `yaml:"binding"`
	Address string            `yaml:"address,omitempty"`
	Options map[string]string `yaml:"options"`
}

type edgeYAML struct {
	CSR csrYAML `yaml:"csr"`
}

type csrYAML struct {
	Organization       string   `yaml:"organization"`
	OrganizationalUnit string   `yaml:"organizationalUnit"`
	SANs               sansYAML `yaml:"sans"`
}

type sansYAML struct {
	DNS []string `yaml:"dns,omitempty"`
	IP  []string `yaml:"ip,omitempty"`
}

// Render returns the router's configuration file.
func (c Config) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bind := c.Bind.String()
	r := routerYAML{
		V: 3,
		Identity: identityYAML{
			Cert: c.certFile(), ServerCert: c.serverCertFile(), Key: c.keyFile(), CA: c.caFile(),
		},
		Ctrl: ctrlYAML{Endpoint: "tls:" + c.Controller},
		Link: linkYAML{Dialers: []dialerYAML{linkDialer}},
		Listen: []listenerYAML{{
			Binding: "edge",
			Address: "tls:" + net.JoinHostPort(bind, strconv.Itoa(c.Port)),
			Options: map[string]string{"advertise": net.JoinHostPort(c.Advertise, strconv.Itoa(c.Port))},
		}},
		Edge: edgeYAML{CSR: csrYAML{Organization: "ztedge", OrganizationalUnit: "edge-router"}},
	}
	if c.LinkPort != 0 {
		port := strconv.Itoa(c.LinkPort)
		r.Link.Listeners = []map[string]string{{
			"binding":   "transport",
			"bind":      "tls:" + net.JoinHostPort(bind, port),
			"advertise": "tls:" + net.JoinHostPort(c.Advertise, port),
		}}
	}
	if c.Tunneler {
		r.Listen = append(r.Listen, listenerYAML{Binding: "tunnel", Options: map[string]string{"mode": "host"}})
	}
	sans := &r.Edge.CSR.SANs
	if ip, err := netip.ParseAddr(c.Advertise); err == nil {
		sans.IP = append(sans.IP, ip.String())
	} else {
		sans.DNS = append(sans.DNS, c.Advertise)
	}
	if bind != c.Advertise {
		sans.IP = append(sans.IP, bind)
	}
	var out bytes.Buffer
	out.WriteString("# Written by \"ztedge router join " + c.Name + "\"; it is rewritten at every join.\n")
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&r); err != nil {
		return nil, fmt.Errorf("edgerouter: %w", err)
	}
	return out.Bytes(), nil
}

// WrittenController returns the controller address of the configuration
// file a previous join wrote in dir, or "" when there is none.
func WrittenController(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "router.yaml"))
	if err != nil {
		return ""
	}
	var r routerYAML
	if yaml.Unmarshal(b, &r) != nil {
		return ""
	}
	addr := strings.TrimPrefix(r.Ctrl.Endpoint, "tls:")
	if !validHostPort(addr) {
		return ""
	}
	return addr
}
