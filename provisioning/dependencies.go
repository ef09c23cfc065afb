package provisioning

import (
	"net/url"
	"strconv"
)

// Dependency is a TCP server that is not Ziti-aware (a database, a
// broker), reached by ztedge services over the overlay while it stays
// bound to loopback on its host. A router's tunneler on that host hosts
// it as the Ziti service "edgex.<name>", with a host.v1 config (protocol
// tcp, Address, Port) and the intercept address Host:Port that services
// dial it by.
type Dependency struct {
	// Name names the dependency; its Ziti service is "edgex.<name>".
	Name string `yaml:"name"`
	// Router is the edge router whose tunneler hosts it: one of the
	// topology's routers (with tunneler: true) or a tunneler-enabled
	// router already on the controller.
	Router string `yaml:"router"`
	// Address is where the router's host reaches the server. Default
	// 127.0.0.1.
	Address string `yaml:"address"`
	// Port is the server's TCP port there, and the intercept port.
	Port int `yaml:"port"`
	// Host is the intercept host name. Default "<name>.edgex.ziti".
	Host string `yaml:"host"`
	// Dialers may dial it: service or client names, or "group:<name>".
	Dialers []string `yaml:"dialers"`
}

// VaultOverlay publishes Vault on the overlay: the tunneler of Router
// forwards the Ziti service [VaultZitiService] to Address:Port, and every
// service of the topology may dial it. TLS, when Vault uses it, stays end
// to end: services verify Vault's certificate for the host name of
// vault.address.
type VaultOverlay struct {
	// Router is the edge router whose tunneler hosts Vault, usually the
	// one on Vault's host.
	Router string `yaml:"router"`
	// Address is where the router's host reaches Vault. Default: the host
	// of vault.address.
	Address string `yaml:"address"`
	// Port is Vault's port there. Default: the port of vault.address.
	Port int `yaml:"port"`
}

// VaultZitiService is the Ziti service that publishes Vault on the overlay.
const VaultZitiService = "ztedge.vault"

// vaultHostedName names Vault's hosted objects; it holds a dot, so no
// service or dependency name can take it.
const vaultHostedName = "ztedge.vault"

// vaultDialerAttribute is the role attribute of the identities that may
// dial Vault's Ziti service: every service's, with vault.overlay.
const vaultDialerAttribute = "ztedge.vault.dialers"

// Names of the objects of a hosted dependency, after the prefix.
const (
	hostConfigPrefix = "ztedge.host."
	hostConfigType   = "host.v1"
	hostedERPPrefix  = serviceRouterPolicyNam + ".host."
)

// hosted is a Ziti service hosted by a router's tunneler: a dependency,
// or Vault.
type hosted struct {
	name          string // objects are named after it
	field         string // the topology field, for errors
	zitiService   string
	router        string
	address       string
	port          int
	interceptHost string   // "" for none
	dialers       []string // identity names, groups expanded
}

// hostedServices returns the dependencies and Vault's overlay service,
// with dialers expanded from groups.
func (t *Topology) hostedServices() []hosted {
	var out []hosted
	for i, d := range t.Dependencies {
		out = append(out, hosted{name: d.Name, field: "dependencies[" + strconv.Itoa(i) + "]", zitiService: ZitiServiceName(d.Name),
			router: d.Router, address: d.Address, port: d.Port, interceptHost: d.Host, dialers: t.expandDialers(d.Dialers)})
	}
	if o := t.Vault.Overlay; o != nil {
		var all []string
		for _, s := range t.Services {
			all = append(all, s.Name)
		}
		out = append(out, hosted{name: vaultHostedName, field: "vault.overlay", zitiService: VaultZitiService,
			router: o.Router, address: o.Address, port: o.Port, dialers: all})
	}
	return out
}

// expandDialers turns names and "group:<name>" entries into identity names.
func (t *Topology) expandDialers(entries []string) []string {
	members, _ := t.groupMembers()
	return normSet(expandGroups(entries, members))
}

// setDependencyDefaults fills in the dependencies' and Vault overlay's
// defaults.
func (t *Topology) setDependencyDefaults() {
	for i := range t.Dependencies {
		d := &t.Dependencies[i]
		if d.Address == "" {
			d.Address = "127.0.0.1"
		}
		if d.Host == "" && d.Name != "" {
			d.Host = d.Name + DefaultInterceptDomain
		}
	}
	if o := t.Vault.Overlay; o != nil {
		u, err := url.Parse(t.Vault.Address)
		if err != nil {
			return
		}
		if o.Address == "" {
			o.Address = u.Hostname()
		}
		if o.Port == 0 {
			port := u.Port()
			if port == "" {
				port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
			}
			o.Port, _ = strconv.Atoi(port)
		}
	}
}
