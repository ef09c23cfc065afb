package provisioning

import (
	"context"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_model"
)

// serviceKind is a service's Ziti service, edgex.<name>.
type serviceKind struct{}

// serviceSpec is the part of a Ziti service ztedge manages.
type serviceSpec struct {
	Configs            []string // config names
	RoleAttributes     []string
	EncryptionRequired bool
}

func (want serviceSpec) diff(have serviceSpec) fieldDiffs {
	var d fieldDiffs
	d.set("configs", have.Configs, want.Configs)
	d.set("roleAttributes", have.RoleAttributes, want.RoleAttributes)
	d.boolean("encryptionRequired", have.EncryptionRequired, want.EncryptionRequired)
	return d
}

func (serviceKind) kind() string { return "ziti service" }

func (k serviceKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[serviceSpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.ServiceDetail, error) {
		r, err := z.api.Service.ListServices(&service.ListServicesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	out := make([]zitiObject[serviceSpec], 0, len(all))
	for _, s := range all {
		spec := serviceSpec{EncryptionRequired: isTrue(s.EncryptionRequired)}
		for _, id := range s.Configs {
			spec.Configs = append(spec.Configs, z.nameOr(configKind{}.kind(), id))
		}
		if s.RoleAttributes != nil {
			spec.RoleAttributes = normSet(*s.RoleAttributes)
		}
		z.remember(k.kind(), str(s.Name), str(s.ID))
		out = append(out, zitiObject[serviceSpec]{Name: str(s.Name), ID: str(s.ID), Managed: isManaged(s.Tags), Spec: spec})
	}
	return out, nil
}

func (serviceKind) create(ctx context.Context, z *zitiSide, o zitiObject[serviceSpec]) (string, error) {
	configs, err := z.idsOf(configKind{}.kind(), o.Spec.Configs)
	if err != nil {
		return "", err
	}
	r, err := z.api.Service.CreateService(&service.CreateServiceParams{Context: ctx, Service: &rest_model.ServiceCreate{
		Name: ptr(o.Name), Configs: configs, RoleAttributes: o.Spec.RoleAttributes,
		EncryptionRequired: ptr(o.Spec.EncryptionRequired), Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

func (serviceKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[serviceSpec]) error {
	configs, err := z.idsOf(configKind{}.kind(), want.Spec.Configs)
	if err != nil {
		return err
	}
	_, err = z.api.Service.UpdateService(&service.UpdateServiceParams{Context: ctx, ID: have.ID, Service: &rest_model.ServiceUpdate{
		Name: ptr(want.Name), Configs: configs, RoleAttributes: want.Spec.RoleAttributes,
		EncryptionRequired: want.Spec.EncryptionRequired, Tags: managedTags(),
	}}, nil)
	return err
}

func (serviceKind) remove(ctx context.Context, z *zitiSide, o zitiObject[serviceSpec]) error {
	_, err := z.api.Service.DeleteService(&service.DeleteServiceParams{Context: ctx, ID: o.ID}, nil)
	return err
}
