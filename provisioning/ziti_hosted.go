package provisioning

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openziti/edge-api/rest_model"
)

// addHosted adds the objects of each dependency and of Vault's overlay
// service to d: the Ziti service with its host.v1 config (and intercept.v1
// config for a dependency), a Bind policy for the hosting router's
// tunneler identity (which has the router's name and ID), a Dial policy
// for its dialers, and a service-edge-router policy for the hosting
// router and the dialers' routers. Problems resolving the hosting router
// are kept in z.hostedErrs.
func (z *zitiSide) addHosted(d *zitiState, defaultRoles []string) {
	t := z.t
	pins, _ := routerEntries(t)
	declared := routerNames(t.Routers)
	for _, h := range t.hostedServices() {
		hostData, _ := json.Marshal(map[string]any{"protocol": "tcp", "address": h.address, "port": h.port})
		configs := []string{hostConfigPrefix + h.name}
		d.configs = append(d.configs, zitiObject[configSpec]{Name: hostConfigPrefix + h.name,
			Spec: configSpec{Type: hostConfigType, Data: normJSON(string(hostData))}})
		if h.interceptHost != "" {
			data, _ := json.Marshal(map[string]any{
				"protocols": []string{"tcp"}, "addresses": []string{h.interceptHost},
				"portRanges": []map[string]int{{"low": h.port, "high": h.port}},
			})
			d.configs = append(d.configs, zitiObject[configSpec]{Name: interceptConfigPrefix + h.name,
				Spec: configSpec{Type: interceptConfigType, Data: normJSON(string(data))}})
			configs = append(configs, interceptConfigPrefix+h.name)
		}
		d.services = append(d.services, zitiObject[serviceSpec]{Name: h.zitiService, Spec: serviceSpec{
			Configs: normSet(configs), EncryptionRequired: true,
		}})
		d.servicePolicies = append(d.servicePolicies, zitiObject[servicePolicySpec]{Name: bindPolicyPrefix + h.name,
			Spec: servicePolicySpec{Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@" + h.router}, ServiceRoles: []string{"@" + h.zitiService}}})
		var dialers []string
		for _, n := range h.dialers {
			dialers = append(dialers, "@"+n)
		}
		if h.name == vaultHostedName && len(dialers) > 0 {
			// Every service dials Vault: by attribute, not a list of
			// names that the controller rewrites at each delete.
			dialers = []string{AttributePrefix + vaultDialerAttribute}
		}
		if len(dialers) > 0 {
			d.servicePolicies = append(d.servicePolicies, zitiObject[servicePolicySpec]{Name: dialPolicyPrefix + h.name,
				Spec: servicePolicySpec{Type: "Dial", Semantic: "AnyOf", IdentityRoles: normSet(dialers), ServiceRoles: []string{"@" + h.zitiService}}})
		}
		routers := []string{"@" + h.router}
		if !declared[h.router] {
			// Not ztedge's router: the policy names it by ID, as the
			// controller reads it back.
			id, err := z.idOf(anyRouterKind, h.router)
			if err != nil {
				z.hostedErrs = append(z.hostedErrs, fmt.Errorf("%s.router: the controller has no edge router %q", h.field, h.router))
			}
			routers = []string{"@" + id}
		}
		for _, n := range h.dialers {
			for _, e := range pins[n] {
				routers = append(routers, pinRoles(e, defaultRoles)...)
			}
		}
		d.serviceRouters = append(d.serviceRouters, zitiObject[serviceRouterPolicySpec]{Name: hostedERPPrefix + h.name, Spec: serviceRouterPolicySpec{
			Semantic: "AnyOf", ServiceRoles: []string{"@" + h.zitiService}, EdgeRouterRoles: normSet(routers),
		}})
	}
}

// identityRoleIDs turns the identity roles of a policy into the API's
// form. "@<name>" of a router's tunneler identity that does not exist yet
// (the router is created in the same apply) resolves to the router's ID,
// which its identity shares.
func (z *zitiSide) identityRoleIDs(roles []string) (rest_model.Roles, error) {
	out := rest_model.Roles{}
	for _, r := range roles {
		if n, ok := strings.CutPrefix(r, "@"); ok {
			id, err := z.idOf(identityKind{}.kind(), n)
			if err != nil {
				if rid, rerr := z.idOf(anyRouterKind, n); rerr == nil {
					id, err = rid, nil
				}
			}
			if err != nil {
				return nil, err
			}
			r = "@" + id
		}
		out = append(out, r)
	}
	return out, nil
}
