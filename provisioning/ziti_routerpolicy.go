package provisioning

import (
	"context"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_model"
)

// routerPolicyKind is an edge-router policy that lets ztedge's identities
// use edge routers: the identities that name no routers use those of
// ziti.edgeRouterRoles, the others those they name (see routerPolicies).
type routerPolicyKind struct{}

// routerPolicySpec is the part of an edge-router policy ztedge manages.
type routerPolicySpec struct {
	Semantic                       string
	IdentityRoles, EdgeRouterRoles []string
}

func (want routerPolicySpec) diff(have routerPolicySpec) fieldDiffs {
	var d fieldDiffs
	d.str("semantic", have.Semantic, want.Semantic)
	d.roles("identityRoles", have.IdentityRoles, want.IdentityRoles)
	d.roles("edgeRouterRoles", have.EdgeRouterRoles, want.EdgeRouterRoles)
	return d
}

func (routerPolicyKind) kind() string { return "ziti edge-router-policy" }

func (k routerPolicyKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[routerPolicySpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.EdgeRouterPolicyDetail, error) {
		r, err := z.api.EdgeRouterPolicy.ListEdgeRouterPolicies(&edge_router_policy.ListEdgeRouterPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing edge router policies: %w", err)
	}
	out := make([]zitiObject[routerPolicySpec], 0, len(all))
	for _, p := range all {
		spec := routerPolicySpec{IdentityRoles: z.roleNames(identityKind{}.kind(), p.IdentityRoles), EdgeRouterRoles: z.roleNames(routerKind{}.kind(), p.EdgeRouterRoles)}
		if p.Semantic != nil {
			spec.Semantic = string(*p.Semantic)
		}
		z.remember(k.kind(), str(p.Name), str(p.ID))
		out = append(out, zitiObject[routerPolicySpec]{Name: str(p.Name), ID: str(p.ID), Managed: isManaged(p.Tags), Spec: spec})
	}
	return out, nil
}

func (routerPolicyKind) create(ctx context.Context, z *zitiSide, o zitiObject[routerPolicySpec]) (string, error) {
	idr, err := z.roleIDs(identityKind{}.kind(), o.Spec.IdentityRoles)
	if err != nil {
		return "", err
	}
	ers, err := z.routerRoleIDs(o.Spec.EdgeRouterRoles)
	if err != nil {
		return "", err
	}
	r, err := z.api.EdgeRouterPolicy.CreateEdgeRouterPolicy(&edge_router_policy.CreateEdgeRouterPolicyParams{Context: ctx, Policy: &rest_model.EdgeRouterPolicyCreate{
		Name: ptr(o.Name), Semantic: ptr(rest_model.Semantic(o.Spec.Semantic)), IdentityRoles: idr,
		EdgeRouterRoles: ers, Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

func (routerPolicyKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[routerPolicySpec]) error {
	idr, err := z.roleIDs(identityKind{}.kind(), want.Spec.IdentityRoles)
	if err != nil {
		return err
	}
	ers, err := z.routerRoleIDs(want.Spec.EdgeRouterRoles)
	if err != nil {
		return err
	}
	_, err = z.api.EdgeRouterPolicy.UpdateEdgeRouterPolicy(&edge_router_policy.UpdateEdgeRouterPolicyParams{Context: ctx, ID: have.ID, Policy: &rest_model.EdgeRouterPolicyUpdate{
		Name: ptr(want.Name), Semantic: ptr(rest_model.Semantic(want.Spec.Semantic)), IdentityRoles: idr,
		EdgeRouterRoles: ers, Tags: managedTags(),
	}}, nil)
	return err
}

func (routerPolicyKind) remove(ctx context.Context, z *zitiSide, o zitiObject[routerPolicySpec]) error {
	_, err := z.api.EdgeRouterPolicy.DeleteEdgeRouterPolicy(&edge_router_policy.DeleteEdgeRouterPolicyParams{Context: ctx, ID: o.ID}, nil)
	return err
}

// serviceRouterPolicyKind is a service-edge-router policy that lets
// ztedge's services be bound and dialled through edge routers (see
// routerPolicies).
type serviceRouterPolicyKind struct{}

// serviceRouterPolicySpec is the part of a service-edge-router policy
// ztedge manages.
type serviceRouterPolicySpec struct {
	Semantic                      string
	ServiceRoles, EdgeRouterRoles []string
}

func (want serviceRouterPolicySpec) diff(have serviceRouterPolicySpec) fieldDiffs {
	var d fieldDiffs
	d.str("semantic", have.Semantic, want.Semantic)
	d.roles("serviceRoles", have.ServiceRoles, want.ServiceRoles)
	d.roles("edgeRouterRoles", have.EdgeRouterRoles, want.EdgeRouterRoles)
	return d
}

func (serviceRouterPolicyKind) kind() string { return "ziti service-edge-router-policy" }

func (k serviceRouterPolicyKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[serviceRouterPolicySpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.ServiceEdgeRouterPolicyDetail, error) {
		r, err := z.api.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(&service_edge_router_policy.ListServiceEdgeRouterPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing service edge router policies: %w", err)
	}
	out := make([]zitiObject[serviceRouterPolicySpec], 0, len(all))
	for _, p := range all {
		spec := serviceRouterPolicySpec{ServiceRoles: z.roleNames(serviceKind{}.kind(), p.ServiceRoles), EdgeRouterRoles: z.roleNames(routerKind{}.kind(), p.EdgeRouterRoles)}
		if p.Semantic != nil {
			spec.Semantic = string(*p.Semantic)
		}
		z.remember(k.kind(), str(p.Name), str(p.ID))
		out = append(out, zitiObject[serviceRouterPolicySpec]{Name: str(p.Name), ID: str(p.ID), Managed: isManaged(p.Tags), Spec: spec})
	}
	return out, nil
}

func (serviceRouterPolicyKind) create(ctx context.Context, z *zitiSide, o zitiObject[serviceRouterPolicySpec]) (string, error) {
	svr, err := z.roleIDs(serviceKind{}.kind(), o.Spec.ServiceRoles)
	if err != nil {
		return "", err
	}
	ers, err := z.routerRoleIDs(o.Spec.EdgeRouterRoles)
	if err != nil {
		return "", err
	}
	r, err := z.api.ServiceEdgeRouterPolicy.CreateServiceEdgeRouterPolicy(&service_edge_router_policy.CreateServiceEdgeRouterPolicyParams{Context: ctx, Policy: &rest_model.ServiceEdgeRouterPolicyCreate{
		Name: ptr(o.Name), Semantic: ptr(rest_model.Semantic(o.Spec.Semantic)), ServiceRoles: svr,
		EdgeRouterRoles: ers, Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

func (serviceRouterPolicyKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[serviceRouterPolicySpec]) error {
	svr, err := z.roleIDs(serviceKind{}.kind(), want.Spec.ServiceRoles)
	if err != nil {
		return err
	}
	ers, err := z.routerRoleIDs(want.Spec.EdgeRouterRoles)
	if err != nil {
		return err
	}
	_, err = z.api.ServiceEdgeRouterPolicy.UpdateServiceEdgeRouterPolicy(&service_edge_router_policy.UpdateServiceEdgeRouterPolicyParams{Context: ctx, ID: have.ID, Policy: &rest_model.ServiceEdgeRouterPolicyUpdate{
		Name: ptr(want.Name), Semantic: ptr(rest_model.Semantic(want.Spec.Semantic)), ServiceRoles: svr,
		EdgeRouterRoles: ers, Tags: managedTags(),
	}}, nil)
	return err
}

func (serviceRouterPolicyKind) remove(ctx context.Context, z *zitiSide, o zitiObject[serviceRouterPolicySpec]) error {
	_, err := z.api.ServiceEdgeRouterPolicy.DeleteServiceEdgeRouterPolicy(&service_edge_router_policy.DeleteServiceEdgeRouterPolicyParams{Context: ctx, ID: o.ID}, nil)
	return err
}
