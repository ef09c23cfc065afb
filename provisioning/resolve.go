package provisioning

import (
	"sort"
	"strings"
)

// Dialers returns, for each service, the sorted names of the services and
// clients the dial rules allow to dial it, with groups expanded to their
// members. A service nobody may dial is absent. Call it on a validated
// topology.
func (t *Topology) Dialers() map[string][]string {
	members := map[string][]string{} // group -> identity names (services and clients)
	serviceMembers := map[string][]string{}
	for _, s := range t.Services {
		for _, g := range s.Groups {
			members[g] = append(members[g], s.Name)
			serviceMembers[g] = append(serviceMembers[g], s.Name)
		}
	}
	for _, c := range t.Clients {
		for _, g := range c.Groups {
			members[g] = append(members[g], c.Name)
		}
	}
	expand := func(entries []string, groups map[string][]string) []string {
		var out []string
		for _, e := range entries {
			if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
				out = append(out, groups[g]...)
			} else {
				out = append(out, e)
			}
		}
		return out
	}
	sets := map[string]map[string]bool{}
	for _, r := range t.Dial {
		from := expand(r.From, members)
		for _, to := range expand(r.To, serviceMembers) {
			if sets[to] == nil {
				sets[to] = map[string]bool{}
			}
			for _, f := range from {
				sets[to][f] = true
			}
		}
	}
	out := make(map[string][]string, len(sets))
	for svc, set := range sets {
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		sort.Strings(names)
		out[svc] = names
	}
	return out
}
