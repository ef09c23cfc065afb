package provisioning

import (
	"fmt"
	"net/netip"
	"strings"
)

// dependencies checks the dependencies and vault.overlay: names unique
// among services, clients and routers, a hosting router that runs a
// tunneler, an address and port the router's host can dial, and dialers
// that exist.
func (v *validator) dependencies(t *Topology, names map[string]string, groups map[string]groupMembers, intercepts map[string]string) {
	tunnelers := map[string]bool{}
	for _, r := range t.Routers {
		names[r.Name] = "router"
		tunnelers[r.Name] = r.Tunneler
	}
	for i, d := range t.Dependencies {
		f := fmt.Sprintf("dependencies[%d]", i)
		v.name(f+".name", d.Name, names, "dependency")
		v.hostingRouter(f+".router", d.Router, tunnelers)
		v.hostAddress(f+".address", d.Address)
		if d.Port < 1 || d.Port > 65535 {
			v.addf("%s.port: %d is out of range (1 to 65535)", f, d.Port)
		}
		if !hostRE.MatchString(d.Host) || len(d.Host) > 253 {
			v.addf("%s.host: %q is not a valid host name", f, d.Host)
		}
		addr := fmt.Sprintf("%s:%d", d.Host, d.Port)
		if other, dup := intercepts[addr]; dup {
			v.addf("%s: intercept address %s is already used by %q", f, addr, other)
		}
		intercepts[addr] = d.Name
		if len(d.Dialers) == 0 {
			v.addf("%s.dialers: missing (which services or clients may dial it)", f)
		}
		for j, e := range d.Dialers {
			ff := fmt.Sprintf("%s.dialers[%d]", f, j)
			if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
				if _, known := groups[g]; !known {
					v.addf("%s: unknown group %q (no service or client has it)", ff, g)
				}
			} else if kind := names[e]; kind != "service" && kind != "client" {
				v.addf("%s: unknown service or client %q", ff, e)
			}
		}
	}
	if o := t.Vault.Overlay; o != nil {
		v.hostingRouter("vault.overlay.router", o.Router, tunnelers)
		v.hostAddress("vault.overlay.address", o.Address)
		if o.Port < 1 || o.Port > 65535 {
			v.addf("vault.overlay.port: %d is out of range (1 to 65535)", o.Port)
		}
	}
}

// hostingRouter checks the router that hosts a dependency: a router of
// the topology must have its tunneler on; another name must be a
// tunneler-enabled router on the controller, which apply checks.
func (v *validator) hostingRouter(field, name string, tunnelers map[string]bool) {
	switch on, declared := tunnelers[name]; {
	case name == "":
		v.addf("%s: missing (the edge router whose tunneler hosts it)", field)
	case declared && !on:
		v.addf("%s: router %q has no tunneler (set tunneler: true on it)", field, name)
	case !declared && strings.ContainsAny(name, "@#\""):
		v.addf("%s: %q is not a router name", field, name)
	}
}

// hostAddress checks an address a router's tunneler dials: a host name or
// an IP address.
func (v *validator) hostAddress(field, addr string) {
	if addr == "" {
		v.addf("%s: missing", field)
		return
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		if ip.IsUnspecified() || ip.IsMulticast() {
			v.addf("%s: %q is not an address to dial", field, addr)
		}
		return
	}
	if !hostRE.MatchString(addr) || len(addr) > 253 {
		v.addf("%s: %q is not a valid host name or IP address", field, addr)
	}
}
