package provisioning

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ztedge/ztedge/internal/naming"
)

// AttributePrefix marks an entry of a service's or client's routers that
// names a router role attribute rather than a router, e.g. "#node-a".
const AttributePrefix = "#"

// routerNames returns the set of router names the topology declares.
func routerNames(routers []Router) map[string]bool {
	out := make(map[string]bool, len(routers))
	for _, r := range routers {
		out[r.Name] = true
	}
	return out
}

// pins checks a service's or client's routers: each entry is a declared
// router's name or "#attribute", listed once.
func (v *validator) pins(field string, entries []string, routers map[string]bool) {
	seen := map[string]bool{}
	for i, e := range entries {
		f := fmt.Sprintf("%s[%d]", field, i)
		if attr, ok := strings.CutPrefix(e, AttributePrefix); ok {
			if !groupRE.MatchString(attr) {
				v.addf("%s: %q is not a valid router attribute (lower-case letters, digits and ._- after #)", f, e)
			}
		} else if !routers[e] {
			v.addf("%s: unknown router %q (declare it under routers, or write #attribute for routers by attribute)", f, e)
		}
		if seen[e] {
			v.addf("%s: %q is listed twice", f, e)
		}
		seen[e] = true
	}
}

// routers checks the routers section. Router names must differ from
// service and client names: a tunneler-enabled router gets an identity of
// its own name on the controller.
func (v *validator) routers(routers []Router, identities map[string]string) {
	seen := map[string]bool{}
	for i, r := range routers {
		f := fmt.Sprintf("routers[%d]", i)
		switch {
		case r.Name == "":
			v.addf("%s.name: missing", f)
		case !naming.ValidName(r.Name):
			v.addf("%s.name: %q is not a valid name (%s)", f, r.Name, naming.NameRule)
		case seen[r.Name]:
			v.addf("%s.name: router %q is declared twice", f, r.Name)
		case identities[r.Name] != "":
			v.addf("%s.name: %q is already the name of a %s (a router's identity takes its name)", f, r.Name, identities[r.Name])
		}
		seen[r.Name] = true
		attrs := map[string]bool{}
		for j, a := range r.Attributes {
			if !groupRE.MatchString(a) {
				v.addf("%s.attributes[%d]: %q is not a valid attribute (lower-case letters, digits and ._-, without #)", f, j, a)
			}
			if attrs[a] {
				v.addf("%s.attributes[%d]: %q is listed twice", f, j, a)
			}
			attrs[a] = true
		}
		v.advertise(f+".advertise", r.Advertise)
		if r.Port < 1 || r.Port > 65535 {
			v.addf("%s.port: %d is out of range (1 to 65535)", f, r.Port)
		}
		if r.LinkPort < 0 || r.LinkPort > 65535 {
			v.addf("%s.linkPort: %d is out of range (1 to 65535, or 0 for no link listener)", f, r.LinkPort)
		}
	}
}

// advertise checks an address a router advertises: a host name or a
// unicast IP address.
func (v *validator) advertise(field, addr string) {
	if addr == "" {
		v.addf("%s: missing (the host name or IP address SDKs and routers dial)", field)
		return
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		if ip.IsUnspecified() || ip.IsMulticast() || ip.Zone() != "" {
			v.addf("%s: %q is not an address others can dial", field, addr)
		}
		return
	}
	if !hostRE.MatchString(addr) || len(addr) > 253 {
		v.addf("%s: %q is not a valid host name or IP address", field, addr)
	}
}
