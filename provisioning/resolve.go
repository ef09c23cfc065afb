package provisioning

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Dialers returns, for each service, the sorted names of the services and
// clients the dial rules allow to dial it, with groups expanded to their
// members. A service nobody may dial is absent. Call it on a validated
// topology.
func (t *Topology) Dialers() map[string][]string {
	sets := map[string]map[string]bool{}
	t.eachPermission(func(_ int, from, to string) {
		if sets[to] == nil {
			sets[to] = map[string]bool{}
		}
		sets[to][from] = true
	})
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

// PermittingRules returns the indices (into Dial, ascending) of the dial
// rules that allow identity from to dial service to; none when no rule
// does. Call it on a validated topology.
func (t *Topology) PermittingRules(from, to string) []int {
	var rules []int
	t.eachPermission(func(rule int, f, s string) {
		if f == from && s == to && !slices.Contains(rules, rule) {
			rules = append(rules, rule)
		}
	})
	return rules
}

// eachPermission calls fn for every (rule, dialer, service) the dial rules
// expand to, rule by rule; a pair may come more than once.
func (t *Topology) eachPermission(fn func(rule int, from, to string)) {
	members, serviceMembers := t.groupMembers()
	for i, r := range t.Dial {
		from := expandGroups(r.From, members)
		for _, to := range expandGroups(r.To, serviceMembers) {
			for _, f := range from {
				fn(i, f, to)
			}
		}
	}
}

// eachDependencyDialer calls fn for every (dependency, dialer) the
// dependencies' dialers expand to; a pair may come more than once.
func (t *Topology) eachDependencyDialer(fn func(dependency, from string)) {
	for _, d := range t.Dependencies {
		for _, f := range t.expandDialers(d.Dialers) {
			fn(d.Name, f)
		}
	}
}

// groupMembers maps each group to its members: services and clients, and
// services only.
func (t *Topology) groupMembers() (members, serviceMembers map[string][]string) {
	members, serviceMembers = map[string][]string{}, map[string][]string{}
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
	return members, serviceMembers
}

// expandGroups replaces each "group:<name>" entry by the group's members.
func expandGroups(entries []string, groups map[string][]string) []string {
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

// DescribeRule formats dial rule i as in the file, e.g.
// "dial[1] (from [core-command] to [core-metadata, group:devices])".
func (t *Topology) DescribeRule(i int) string {
	if i < 0 || i >= len(t.Dial) {
		return "no such dial rule"
	}
	r := t.Dial[i]
	return fmt.Sprintf("dial[%d] (from [%s] to [%s])", i, strings.Join(r.From, ", "), strings.Join(r.To, ", "))
}
