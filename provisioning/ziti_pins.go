package provisioning

import (
	"sort"
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
	pins := map[string][]string{} // identity name -> entries
	identities := map[string][]string{}
	for _, s := range t.Services {
		pins[s.Name] = pinsOf(s.Routers)
	}
	for _, c := range t.Clients {
		pins[c.Name] = pinsOf(c.Routers)
	}
	for name, entries := range pins {
		for _, e := range entries {
			identities[e] = append(identities[e], "@"+name)
		}
	}
	services := map[string][]string{}
	dialers := t.Dialers()
	for _, s := range t.Services {
		need := map[string]bool{}
		for _, e := range pins[s.Name] {
			need[e] = true
		}
		for _, d := range dialers[s.Name] {
			for _, e := range pins[d] {
				need[e] = true
			}
		}
		for e := range need {
			services[e] = append(services[e], "@"+ZitiServiceName(s.Name))
		}
	}
	var erps []zitiObject[routerPolicySpec]
	for _, e := range sortedEntries(identities) {
		erps = append(erps, zitiObject[routerPolicySpec]{Name: pinPolicyName(edgeRouterPolicyName, e), Spec: routerPolicySpec{
			Semantic: "AnyOf", IdentityRoles: normSet(identities[e]), EdgeRouterRoles: normSet(pinRoles(e, defaultRoles)),
		}})
	}
	var serps []zitiObject[serviceRouterPolicySpec]
	for _, e := range sortedEntries(services) {
		serps = append(serps, zitiObject[serviceRouterPolicySpec]{Name: pinPolicyName(serviceRouterPolicyNam, e), Spec: serviceRouterPolicySpec{
			Semantic: "AnyOf", ServiceRoles: normSet(services[e]), EdgeRouterRoles: normSet(pinRoles(e, defaultRoles)),
		}})
	}
	return erps, serps
}

// sortedEntries returns the keys of m, sorted.
func sortedEntries(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
