package provisioning

import (
	"strings"
)

// unpinned stands for the routers of ziti.edgeRouterRoles, used by every
// service and client that names no routers of its own.
const unpinned = ""

// pinsOf returns the router entries an identity uses: its own, or
// [unpinned].
func pinsOf(entries []string) []string {
	if len(entries) == 0 {
		return []string{unpinned}
	}
	return entries
}

// pinRoles returns the edge-router roles of a router entry: "@<name>" for
// a router of the topology, the entry itself for "#attribute", and
// defaults for [unpinned].
func pinRoles(entry string, defaults []string) []string {
	switch {
	case entry == unpinned:
		return defaults
	case strings.HasPrefix(entry, AttributePrefix):
		return []string{entry}
	}
	return []string{"@" + entry}
}

// pinPolicyName is the name of the policy of a router entry: base itself
// for [unpinned], "<base>.@<router>" or "<base>.#<attribute>" otherwise.
func pinPolicyName(base, entry string) string {
	switch {
	case entry == unpinned:
		return base
	case strings.HasPrefix(entry, AttributePrefix):
		return base + "." + entry
	}
	return base + ".@" + entry
}

// pinAttributePrefix starts the role attribute that puts an identity or a
// service in the policies of a router entry.
const pinAttributePrefix = "ztedge.routers"

// pinAttribute is the role attribute of a router entry's policies:
// "ztedge.routers" for [unpinned], "ztedge.routers.router.<router>" or
// "ztedge.routers.attribute.<attribute>" otherwise. The policies select their
// identities and services by it rather than by name: the controller
// removes a deleted identity or service from every policy that names it,
// at a cost that grows with the length of the policy's list, so that
// destroying a fleet listed by name grows with its square.
func pinAttribute(entry string) string {
	switch {
	case entry == unpinned:
		return pinAttributePrefix
	case strings.HasPrefix(entry, AttributePrefix):
		return pinAttributePrefix + ".attribute." + strings.TrimPrefix(entry, AttributePrefix)
	}
	return pinAttributePrefix + ".router." + entry
}

// pinAttributes returns the router-entry attributes of an identity or
// service that uses entries.
func pinAttributes(entries []string) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, pinAttribute(e))
	}
	return out
}

// routerPolicies computes the edge-router and service-edge-router
// policies, one of each per router entry that a service or client names
// (plus one for the unpinned ones, with defaultRoles):
//
//   - edge-router policy: the identities that name the entry may use its
//     routers;
//   - service-edge-router policy: a service may be reached through the
//     routers of its own identity (to bind it) and of every identity the
//     dial rules allow to dial it (to dial it), and no others.
//
// When nobody names routers this is one policy of each kind, for every
// identity and every service, with defaultRoles.
func routerPolicies(t *Topology, defaultRoles []string) ([]zitiObject[routerPolicySpec], []zitiObject[serviceRouterPolicySpec]) {
	identities, services := routerEntries(t)
	used := func(m map[string][]string) map[string]bool {
		set := map[string]bool{}
		for _, entries := range m {
			for _, e := range entries {
				set[e] = true
			}
		}
		return set
	}
	var erps []zitiObject[routerPolicySpec]
	for _, e := range sortedKeys(used(identities)) {
		erps = append(erps, zitiObject[routerPolicySpec]{Name: pinPolicyName(edgeRouterPolicyName, e), Spec: routerPolicySpec{
			Semantic: "AnyOf", IdentityRoles: []string{AttributePrefix + pinAttribute(e)}, EdgeRouterRoles: normSet(pinRoles(e, defaultRoles)),
		}})
	}
	var serps []zitiObject[serviceRouterPolicySpec]
	for _, e := range sortedKeys(used(services)) {
		serps = append(serps, zitiObject[serviceRouterPolicySpec]{Name: pinPolicyName(serviceRouterPolicyNam, e), Spec: serviceRouterPolicySpec{
			Semantic: "AnyOf", ServiceRoles: []string{AttributePrefix + pinAttribute(e)}, EdgeRouterRoles: normSet(pinRoles(e, defaultRoles)),
		}})
	}
	return erps, serps
}

// routerEntries returns the router entries of each identity (service or
// client, by name) and of each service (by service name): an identity uses
// its own entries; a service is reached through the entries of its own
// identity (to bind it) and of every identity the dial rules allow to dial
// it (to dial it), and no others.
func routerEntries(t *Topology) (identities, services map[string][]string) {
	identities = map[string][]string{}
	for _, s := range t.Services {
		identities[s.Name] = pinsOf(s.Routers)
	}
	for _, c := range t.Clients {
		identities[c.Name] = pinsOf(c.Routers)
	}
	services = map[string][]string{}
	dialers := t.Dialers()
	for _, s := range t.Services {
		need := map[string]bool{}
		for _, e := range identities[s.Name] {
			need[e] = true
		}
		for _, d := range dialers[s.Name] {
			for _, e := range identities[d] {
				need[e] = true
			}
		}
		services[ZitiServiceName(s.Name)] = sortedKeys(need)
	}
	return identities, services
}
