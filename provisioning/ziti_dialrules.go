package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// groupAttributePrefix starts the role attribute that ztedge gives the
// identities and services of a group, besides the group's own name: Dial
// policies select groups by it, so an identity or service made by hand
// with an attribute that happens to equal a group's name joins no
// ztedge group.
const groupAttributePrefix = "ztedge.group."

// groupAttributes are the role attributes of a member of groups.
// roleAttributes are the role attributes of an identity or service: its
// groups' (see groupAttributes) and its router entries' (see pinAttribute).
func roleAttributes(groups, routerEntries []string) []string {
	return normSet(append(groupAttributes(groups), pinAttributes(routerEntries)...))
}

func groupAttributes(groups []string) []string {
	out := slices.Clone(groups)
	for _, g := range groups {
		out = append(out, groupAttributePrefix+g)
	}
	return normSet(out)
}

// dialRule is one Dial policy: who may dial what, by name or by group.
type dialRule struct {
	name                        string
	identityRoles, serviceRoles []string
}

// dialRules turns the topology's dial rules into one Dial policy each, with
// groups selected by attribute: the policy count does not grow with the
// size of the groups, and the controller links each identity to each
// service once per rule. Identical rules make one policy. A policy's name
// is derived from its content, so reordering the rules changes nothing.
func dialRules(t *Topology) []dialRule {
	var out []dialRule
	seen := map[string]bool{}
	for _, r := range t.Dial {
		d := dialRuleOf(r)
		if !seen[d.name] {
			seen[d.name] = true
			out = append(out, d)
		}
	}
	return out
}

// DialPolicyName is the name of the controller's Dial policy for the
// topology's dial rule i (rules that say the same share one policy).
func (t *Topology) DialPolicyName(i int) string { return dialRuleOf(t.Dial[i]).name }

// dialRuleOf is the Dial policy of one dial rule.
func dialRuleOf(r DialRule) dialRule {
	var from, to []string
	for _, e := range r.From {
		if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
			from = append(from, "#"+groupAttributePrefix+g)
		} else {
			from = append(from, "@"+e)
		}
	}
	for _, e := range r.To {
		if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
			to = append(to, "#"+groupAttributePrefix+g)
		} else {
			to = append(to, "@"+ZitiServiceName(e))
		}
	}
	from, to = normSet(from), normSet(to)
	sum := sha256.Sum256([]byte(strings.Join(from, ",") + " -> " + strings.Join(to, ",")))
	return dialRule{name: dialPolicyPrefix + ruleLabel(r) + "." + hex.EncodeToString(sum[:4]), identityRoles: from, serviceRoles: to}
}

// ruleLabel is a readable part of a dial rule's policy name, such as
// "group-devices.to.core-data+core-metadata", cut to 60 characters.
func ruleLabel(r DialRule) string {
	side := func(entries []string) string {
		s := slices.Clone(entries)
		slices.Sort(s)
		s = slices.Compact(s)
		return strings.ReplaceAll(strings.Join(s, "+"), GroupPrefix, "group-")
	}
	label := side(r.From) + ".to." + side(r.To)
	if len(label) > 60 {
		label = label[:60]
	}
	return label
}
