package provisioning

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/endpoint"
	"github.com/ztedge/ztedge/internal/naming"
)

// ValidationError lists every problem found in a topology, each naming the
// field it is about, e.g. `services[1].name: "core_data" is not a valid name`.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "provisioning: invalid topology: " + e.Problems[0]
	}
	return "provisioning: invalid topology:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// reservedAttributePrefix starts the role attributes ztedge gives
// identities and services itself (groups, router entries).
const reservedAttributePrefix = "ztedge."

// GroupPrefix marks a dial rule entry that names a group, e.g. "group:core".
const GroupPrefix = "group:"

var (
	groupRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	// zitiRoleRE is a Ziti role naming routers made outside ztedge too:
	// #attribute or @name, whatever their case and punctuation.
	zitiRoleRE = regexp.MustCompile(`^[#@][^\s#@,]+$`)
	hostRE     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// Vault paths segments: the key and mount names.
	vaultNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	audienceRE  = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,255}$`)
)

var algorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// Validate checks the topology before anything is touched and reports every
// problem at once in a [*ValidationError]. Call it after [Topology.SetDefaults].
func (t *Topology) Validate() error {
	v := &validator{}
	v.urlField("vault.address", t.Vault.Address, "http", "https")
	v.urlField("ziti.controller", t.Ziti.Controller, "https")
	switch {
	case !vaultNameRE.MatchString(t.Vault.Key):
		v.addf("vault.key: %q is not a valid Vault key name", t.Vault.Key)
	case t.Vault.Key == "default":
		v.addf("vault.key: %q is Vault's built-in key, which ztedge must not take over; choose another name", t.Vault.Key)
	}
	if !algorithms[t.Vault.Algorithm] {
		v.addf("vault.algorithm: %q is not supported (use one of %s)", t.Vault.Algorithm, strings.Join(sortedKeys(algorithms), ", "))
	}
	for _, seg := range strings.Split(t.Vault.AuthMount, "/") {
		if !vaultNameRE.MatchString(seg) {
			v.addf("vault.authMount: %q is not a valid mount path", t.Vault.AuthMount)
			break
		}
	}
	if m := t.Vault.SecretsMount; m != "secret" && m != "secret/edgex" {
		v.addf("vault.secretsMount: %q cannot hold EdgeX secrets: EdgeX reads them at /v1/secret/edgex/<service>/, so the mount must be \"secret\" or \"secret/edgex\"", m)
	}
	if d := time.Duration(t.Vault.TokenPeriod); d < time.Minute {
		v.addf("vault.tokenPeriod: %s is too short (at least 1m)", d)
	}
	if !audienceRE.MatchString(t.JWT.Audience) {
		v.addf("jwt.audience: %q must be 1 to 255 letters, digits or ._:/-", t.JWT.Audience)
	}
	if d := time.Duration(t.JWT.TTL); d < 10*time.Second || d > 24*time.Hour {
		v.addf("jwt.ttl: %s is out of range (10s to 24h)", d)
	}
	if t.Output == "" {
		v.addf("output: missing (the folder for service credentials and client identity files)")
	}
	for i, r := range t.Ziti.EdgeRouterRoles {
		if !zitiRoleRE.MatchString(r) {
			v.addf("ziti.edgeRouterRoles[%d]: %q must be # and an attribute, or @ and a router's name, without spaces", i, r)
		}
	}

	if len(t.Services) == 0 {
		v.addf("services: at least one service is required")
	}
	names := map[string]string{} // name -> "service" or "client"
	groups := map[string]groupMembers{}
	intercepts := map[string]string{}
	routers := routerNames(t.Routers)
	for i, s := range t.Services {
		f := fmt.Sprintf("services[%d]", i)
		v.name(f+".name", s.Name, names, "service")
		v.groups(f+".groups", s.Groups)
		v.pins(f+".routers", s.Routers, routers)
		for _, g := range s.Groups {
			m := groups[g]
			m.services = append(m.services, s.Name)
			groups[g] = m
		}
		derived := s.Host == s.Name+DefaultInterceptDomain && !naming.ValidName(s.Name)
		if !derived && (!hostRE.MatchString(s.Host) || len(s.Host) > 253) {
			v.addf("%s.host: %q is not a valid host name", f, s.Host)
		}
		if s.Port < 1 || s.Port > 65535 {
			v.addf("%s.port: %d is out of range (1 to 65535)", f, s.Port)
		}
		if s.Auth != AuthJWT && s.Auth != AuthIdentity {
			v.addf("%s.auth: %q is not %q or %q", f, s.Auth, AuthJWT, AuthIdentity)
		}
		addr := fmt.Sprintf("%s:%d", s.Host, s.Port)
		if other, dup := intercepts[addr]; dup {
			v.addf("%s: intercept address %s is already used by service %q", f, addr, other)
		}
		intercepts[addr] = s.Name
	}
	for i, c := range t.Clients {
		f := fmt.Sprintf("clients[%d]", i)
		v.name(f+".name", c.Name, names, "client")
		v.groups(f+".groups", c.Groups)
		v.pins(f+".routers", c.Routers, routers)
		for _, g := range c.Groups {
			m := groups[g]
			m.clients = append(m.clients, c.Name)
			groups[g] = m
		}
	}
	for i, r := range t.Dial {
		f := fmt.Sprintf("dial[%d]", i)
		if len(r.From) == 0 {
			v.addf("%s.from: missing (who may dial)", f)
		}
		if len(r.To) == 0 {
			v.addf("%s.to: missing (which services may be dialled)", f)
		}
		for j, e := range r.From {
			ff := fmt.Sprintf("%s.from[%d]", f, j)
			if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
				if _, known := groups[g]; !known {
					v.addf("%s: unknown group %q (no service or client has it)", ff, g)
				}
			} else if _, known := names[e]; !known {
				v.addf("%s: unknown service or client %q", ff, e)
			}
		}
		for j, e := range r.To {
			ff := fmt.Sprintf("%s.to[%d]", f, j)
			if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
				if m, known := groups[g]; !known {
					v.addf("%s: unknown group %q (no service has it)", ff, g)
				} else if len(m.services) == 0 {
					v.addf("%s: group %q has no services, only clients, which cannot be dialled", ff, g)
				}
			} else if kind, known := names[e]; !known {
				v.addf("%s: unknown service %q", ff, e)
			} else if kind != "service" {
				v.addf("%s: %q is a client, which cannot be dialled; name a service", ff, e)
			}
		}
	}
	v.routers(t.Routers, names)
	v.dependencies(t, names, groups, intercepts)
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

type groupMembers struct{ services, clients []string }

type validator struct{ problems []string }

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) urlField(field, raw string, schemes ...string) {
	if raw == "" {
		v.addf("%s: missing", field)
		return
	}
	if _, err := endpoint.Base(raw, schemes...); err != nil {
		v.addf("%s: %v", field, err)
	}
}

func (v *validator) name(field, name string, seen map[string]string, kind string) {
	switch {
	case name == "":
		v.addf("%s: missing", field)
		return
	case !naming.ValidName(name):
		v.addf("%s: %q is not a valid name (%s)", field, name, naming.NameRule)
	}
	if other, dup := seen[name]; dup {
		v.addf("%s: %q is already the name of a %s", field, name, other)
		return
	}
	seen[name] = kind
}

func (v *validator) groups(field string, groups []string) {
	seen := map[string]bool{}
	for i, g := range groups {
		switch {
		case !groupRE.MatchString(g):
			v.addf("%s[%d]: %q is not a valid group name (lower-case letters, digits and ._-)", field, i, g)
		case strings.HasPrefix(g, reservedAttributePrefix):
			// A group is also a role attribute: one named like ztedge's
			// own attributes would put its members in other policies.
			v.addf("%s[%d]: group %q starts with %q, which ztedge reserves for its own attributes", field, i, g, reservedAttributePrefix)
		}
		if seen[g] {
			v.addf("%s[%d]: group %q is listed twice", field, i, g)
		}
		seen[g] = true
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
