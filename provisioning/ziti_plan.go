package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// zitiState holds objects of every kind ztedge manages: what the topology
// wants, or what the controller holds.
type zitiState struct {
	signers         []zitiObject[signerSpec]
	authPolicies    []zitiObject[authPolicySpec]
	configs         []zitiObject[configSpec]
	identities      []zitiObject[identitySpec]
	services        []zitiObject[serviceSpec]
	routers         []zitiObject[routerSpec]
	servicePolicies []zitiObject[servicePolicySpec]
	routerPolicies  []zitiObject[routerPolicySpec]
	serviceRouters  []zitiObject[serviceRouterPolicySpec]
}

// desired computes the Ziti objects the topology calls for.
func (z *zitiSide) desired() *zitiState {
	t := z.t
	d := &zitiState{}
	d.signers = []zitiObject[signerSpec]{{Name: SignerName, Spec: signerSpec{
		Issuer: z.issuer, Audience: t.JWT.Audience, JWKSEndpoint: z.jwksURL,
		ClaimsProperty: JWTNameClaim, UseExternalID: true, Enabled: true,
	}}}
	d.authPolicies = []zitiObject[authPolicySpec]{{Name: AuthPolicyName, Spec: authPolicySpec{
		ExtJWTAllowed: true, AllowedSigners: []string{SignerName},
	}}}
	idEntries, svcEntries := routerEntries(t)
	for _, s := range t.Services {
		data, _ := json.Marshal(map[string]any{
			"protocols":  []string{"tcp"},
			"addresses":  []string{s.Host},
			"portRanges": []map[string]int{{"low": s.Port, "high": s.Port}},
		})
		svc := ZitiServiceName(s.Name)
		d.configs = append(d.configs, zitiObject[configSpec]{Name: interceptConfigPrefix + s.Name,
			Spec: configSpec{Type: interceptConfigType, Data: normJSON(string(data))}})
		attrs := roleAttributes(s.Groups, idEntries[s.Name])
		if t.Vault.Overlay != nil {
			attrs = normSet(append(attrs, vaultDialerAttribute))
		}
		id := identitySpec{ExternalJWT: true, ExternalID: s.Name, AuthPolicy: AuthPolicyName, RoleAttributes: attrs}
		if s.Auth == AuthIdentity {
			id = identitySpec{RoleAttributes: attrs, IdentityFile: true}
		}
		d.identities = append(d.identities, zitiObject[identitySpec]{Name: s.Name, Spec: id})
		d.services = append(d.services, zitiObject[serviceSpec]{Name: svc, Spec: serviceSpec{
			Configs: []string{interceptConfigPrefix + s.Name}, RoleAttributes: roleAttributes(s.Groups, svcEntries[svc]), EncryptionRequired: true,
		}})
		d.servicePolicies = append(d.servicePolicies, zitiObject[servicePolicySpec]{Name: bindPolicyPrefix + s.Name,
			Spec: servicePolicySpec{Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@" + s.Name}, ServiceRoles: []string{"@" + svc}}})
	}
	for _, c := range t.Clients {
		d.identities = append(d.identities, zitiObject[identitySpec]{Name: c.Name, Spec: identitySpec{
			RoleAttributes: roleAttributes(c.Groups, idEntries[c.Name]), IdentityFile: true,
		}})
	}
	for _, r := range dialRules(t) {
		d.servicePolicies = append(d.servicePolicies, zitiObject[servicePolicySpec]{Name: r.name,
			Spec: servicePolicySpec{Type: "Dial", Semantic: "AnyOf", IdentityRoles: r.identityRoles, ServiceRoles: r.serviceRoles}})
	}
	for _, r := range t.Routers {
		d.routers = append(d.routers, zitiObject[routerSpec]{Name: r.Name, Spec: routerSpec{
			RoleAttributes: normSet(r.Attributes), Tunneler: r.Tunneler,
		}})
	}
	// Roles are compared by name: an "@<id>" of one of ztedge's routers
	// reads back as "@<name>".
	defaults := z.roleNames(routerKind{}.kind(), t.Ziti.EdgeRouterRoles)
	d.routerPolicies, d.serviceRouters = routerPolicies(t, defaults)
	z.addHosted(d, defaults)
	return d
}

// listAll reads every object of the kinds ztedge manages. Objects are
// listed kind by kind in dependency order, so that references read later
// resolve to names.
func (z *zitiSide) listAll(ctx context.Context) (*zitiState, error) {
	if err := z.loadConfigType(ctx); err != nil {
		return nil, err
	}
	s := &zitiState{}
	var err error
	if s.signers, err = (signerKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.authPolicies, err = (authPolicyKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.configs, err = (configKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.identities, err = (identityKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.services, err = (serviceKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	// Routers before the router policies, whose roles name them.
	if s.routers, err = (routerKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.servicePolicies, err = (servicePolicyKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.routerPolicies, err = (routerPolicyKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	if s.serviceRouters, err = (serviceRouterPolicyKind{}).list(ctx, z); err != nil {
		return nil, err
	}
	return s, nil
}

// plan lists the existing objects of every kind and compares them with the
// desired ones.
func (z *zitiSide) plan(ctx context.Context, issuer, jwksURL string) ([]Change, error) {
	z.issuer, z.jwksURL = issuer, jwksURL
	existing, err := z.listAll(ctx)
	if err != nil {
		return nil, err
	}
	d := z.desired()
	if len(z.hostedErrs) > 0 {
		return nil, errors.Join(z.hostedErrs...)
	}
	return z.planAgainst(d, existing)
}

// destroyPlan deletes every ztedge-managed object, in reverse dependency order.
func (z *zitiSide) destroyPlan(ctx context.Context) ([]Change, error) {
	existing, err := z.listAll(ctx)
	if err != nil {
		return nil, err
	}
	return z.planAgainst(&zitiState{}, existing)
}

// planAgainst compares desired with existing objects kind by kind. Creates
// and updates come in dependency order, one stage per kind (the objects
// of a kind are independent of each other); deletes after them, in the
// order of zitiDeleteOrder. Policies that name an identity being re-created (it gets
// a new ID) are updated too.
func (z *zitiSide) planAgainst(desired, existing *zitiState) ([]Change, error) {
	var upserts, deletes []Change
	var errs []error
	stage := 0
	add := func(u, d []Change, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		upserts = append(upserts, u...)
		deletes = append(deletes, d...)
		stage++
	}
	add(planKind(z, signerKind{}, desired.signers, existing.signers, stage, nil, nil))
	add(planKind(z, authPolicyKind{}, desired.authPolicies, existing.authPolicies, stage, nil, nil))
	add(planKind(z, configKind{}, desired.configs, existing.configs, stage, nil, nil))
	idPlan, idErr := diffKind(identityKind{}.kind(), desired.identities, existing.identities)
	recreated := map[string]bool{}
	for _, u := range idPlan.updates {
		if recreatesIdentity(u.want.Spec, u.have.Spec) {
			recreated[u.want.Name] = true
		}
	}
	u, d := idPlan.changes(z, identityKind{}, stageZitiUpsert+stage)
	add(u, d, idErr)
	add(planKind(z, serviceKind{}, desired.services, existing.services, stage, nil, nil))
	add(planKind(z, routerKind{}, desired.routers, existing.routers, stage, nil, nil))
	add(planKind(z, servicePolicyKind{}, desired.servicePolicies, existing.servicePolicies, stage,
		func(s servicePolicySpec) []string { return s.IdentityRoles }, recreated))
	add(planKind(z, routerPolicyKind{}, desired.routerPolicies, existing.routerPolicies, stage,
		func(s routerPolicySpec) []string { return s.IdentityRoles }, recreated))
	add(planKind(z, serviceRouterPolicyKind{}, desired.serviceRouters, existing.serviceRouters, stage, nil, nil))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(deletes, func(a, b Change) int { return a.stage - b.stage })
	return append(upserts, deletes...), nil
}

// planKind diffs one kind and returns its changes in the stages of the
// kind's position. When identityRoles is given, managed objects whose
// identity roles name a re-created identity are updated even when nothing
// else differs, so they name its new ID after the same apply.
func planKind[S zitiSpec[S]](z *zitiSide, k zitiKind[S], desired, existing []zitiObject[S], position int,
	identityRoles func(S) []string, recreated map[string]bool) (upserts, deletes []Change, err error) {
	p, err := diffKind(k.kind(), desired, existing)
	if identityRoles != nil && len(recreated) > 0 {
		p.updates = append(p.updates, refreshRoles(p, desired, existing, identityRoles, recreated)...)
	}
	upserts, deletes = p.changes(z, k, stageZitiUpsert+position)
	return upserts, deletes, err
}

// refreshRoles returns updates for the existing objects that name a
// re-created identity and are not updated anyway.
func refreshRoles[S zitiSpec[S]](p kindPlan[S], desired, existing []zitiObject[S], identityRoles func(S) []string, recreated map[string]bool) []kindUpdate[S] {
	updating := map[string]bool{}
	for _, u := range p.updates {
		updating[u.want.Name] = true
	}
	byName := map[string]zitiObject[S]{}
	for _, e := range existing {
		byName[e.Name] = e
	}
	var out []kindUpdate[S]
	for _, o := range desired {
		e, ok := byName[o.Name]
		if !ok || !e.Managed || updating[o.Name] {
			continue
		}
		for _, r := range identityRoles(o.Spec) {
			if name, ok := strings.CutPrefix(r, "@"); ok && recreated[name] {
				out = append(out, kindUpdate[S]{want: o, have: e, diffs: fieldDiffs{"identityRoles: " + name + " is re-created"}})
				break
			}
		}
	}
	return out
}
