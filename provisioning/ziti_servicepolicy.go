package provisioning

import (
	"context"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
)

// servicePolicyKind is a service policy: a service's Bind policy (its own
// identity hosts it) or its Dial policy (who may call it).
type servicePolicyKind struct{}

// servicePolicySpec is the part of a service policy ztedge manages.
// Roles name identities and services as "@<name>".
type servicePolicySpec struct {
	Type, Semantic              string
	IdentityRoles, ServiceRoles []string
}

func (want servicePolicySpec) diff(have servicePolicySpec) fieldDiffs {
	var d fieldDiffs
	d.str("type", have.Type, want.Type)
	d.str("semantic", have.Semantic, want.Semantic)
	d.roles("identityRoles", have.IdentityRoles, want.IdentityRoles)
	d.roles("serviceRoles", have.ServiceRoles, want.ServiceRoles)
	return d
}

func (servicePolicyKind) kind() string { return "ziti service-policy" }

func (k servicePolicyKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[servicePolicySpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.ServicePolicyDetail, error) {
		r, err := z.api.ServicePolicy.ListServicePolicies(&service_policy.ListServicePoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing service policies: %w", err)
	}
	out := make([]zitiObject[servicePolicySpec], 0, len(all))
	for _, p := range all {
		spec := servicePolicySpec{IdentityRoles: z.roleNames(identityKind{}.kind(), p.IdentityRoles), ServiceRoles: z.roleNames(serviceKind{}.kind(), p.ServiceRoles)}
		if p.Type != nil {
			spec.Type = string(*p.Type)
		}
		if p.Semantic != nil {
			spec.Semantic = string(*p.Semantic)
		}
		z.remember(k.kind(), str(p.Name), str(p.ID))
		out = append(out, zitiObject[servicePolicySpec]{Name: str(p.Name), ID: str(p.ID), Managed: isManaged(p.Tags), Spec: spec})
	}
	return out, nil
}

// roles resolves the policy's identity and service roles to IDs.
func (servicePolicyKind) roles(z *zitiSide, s servicePolicySpec) (identities, services rest_model.Roles, err error) {
	if identities, err = z.identityRoleIDs(s.IdentityRoles); err != nil {
		return nil, nil, err
	}
	services, err = z.roleIDs(serviceKind{}.kind(), s.ServiceRoles)
	return identities, services, err
}

func (k servicePolicyKind) create(ctx context.Context, z *zitiSide, o zitiObject[servicePolicySpec]) (string, error) {
	idr, svr, err := k.roles(z, o.Spec)
	if err != nil {
		return "", err
	}
	r, err := z.api.ServicePolicy.CreateServicePolicy(&service_policy.CreateServicePolicyParams{Context: ctx, Policy: &rest_model.ServicePolicyCreate{
		Name: ptr(o.Name), Type: ptr(rest_model.DialBind(o.Spec.Type)), Semantic: ptr(rest_model.Semantic(o.Spec.Semantic)),
		IdentityRoles: idr, ServiceRoles: svr, PostureCheckRoles: rest_model.Roles{}, Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

func (k servicePolicyKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[servicePolicySpec]) error {
	idr, svr, err := k.roles(z, want.Spec)
	if err != nil {
		return err
	}
	_, err = z.api.ServicePolicy.UpdateServicePolicy(&service_policy.UpdateServicePolicyParams{Context: ctx, ID: have.ID, Policy: &rest_model.ServicePolicyUpdate{
		Name: ptr(want.Name), Type: ptr(rest_model.DialBind(want.Spec.Type)), Semantic: ptr(rest_model.Semantic(want.Spec.Semantic)),
		IdentityRoles: idr, ServiceRoles: svr, PostureCheckRoles: rest_model.Roles{}, Tags: managedTags(),
	}}, nil)
	return err
}

// deleteStage puts Dial policies first in zitiDeleteOrder, Bind policies
// in the kind's place.
func (k servicePolicyKind) deleteStage(o zitiObject[servicePolicySpec]) int {
	if o.Spec.Type == string(rest_model.DialBindDial) {
		return zitiDeleteStage(dialPolicyDeletes)
	}
	return zitiDeleteStage(k.kind())
}

func (servicePolicyKind) remove(ctx context.Context, z *zitiSide, o zitiObject[servicePolicySpec]) error {
	_, err := z.api.ServicePolicy.DeleteServicePolicy(&service_policy.DeleteServicePolicyParams{Context: ctx, ID: o.ID}, nil)
	return err
}
