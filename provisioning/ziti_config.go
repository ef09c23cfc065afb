package provisioning

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_model"
)

// configTypeKind names config types among remembered IDs.
const configTypeKind = "ziti config-type"

// configKind is a service's intercept.v1 config (the host name and port
// that clients dial it by) or a dependency's host.v1 config (where the
// hosting router's tunneler forwards it).
type configKind struct{}

// configSpec is the part of a config ztedge manages.
type configSpec struct {
	Type string // the config type's name
	Data string // JSON, normalised
}

func (want configSpec) diff(have configSpec) fieldDiffs {
	var d fieldDiffs
	d.str("configType", have.Type, want.Type)
	if normJSON(have.Data) != normJSON(want.Data) {
		d.add("data differs")
	}
	return d
}

func (configKind) kind() string { return "ziti config" }

// loadConfigType finds the IDs of the config types ztedge uses:
// intercept.v1 and host.v1.
func (z *zitiSide) loadConfigType(ctx context.Context) error {
	cts, err := page(func(l, o int64) ([]*rest_model.ConfigTypeDetail, error) {
		f := fmt.Sprintf(`name in ["%s", "%s"]`, interceptConfigType, hostConfigType)
		r, err := z.api.Config.ListConfigTypes(&config.ListConfigTypesParams{Context: ctx, Filter: &f, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return fmt.Errorf("listing config types: %w", err)
	}
	for _, ct := range cts {
		z.remember(configTypeKind, str(ct.Name), str(ct.ID))
	}
	for _, name := range []string{interceptConfigType, hostConfigType} {
		if _, err := z.idOf(configTypeKind, name); err != nil {
			return fmt.Errorf("the controller has no %s config type", name)
		}
	}
	return nil
}

func (k configKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[configSpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.ConfigDetail, error) {
		r, err := z.api.Config.ListConfigs(&config.ListConfigsParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	out := make([]zitiObject[configSpec], 0, len(all))
	for _, c := range all {
		data, _ := json.Marshal(c.Data)
		z.remember(k.kind(), str(c.Name), str(c.ID))
		out = append(out, zitiObject[configSpec]{Name: str(c.Name), ID: str(c.ID), Managed: isManaged(c.Tags),
			Spec: configSpec{Type: z.nameOr(configTypeKind, str(c.ConfigTypeID)), Data: normJSON(string(data))}})
	}
	return out, nil
}

func (configKind) create(ctx context.Context, z *zitiSide, o zitiObject[configSpec]) (string, error) {
	typeID, err := z.idOf(configTypeKind, o.Spec.Type)
	if err != nil {
		return "", err
	}
	var data any
	if err := json.Unmarshal([]byte(o.Spec.Data), &data); err != nil {
		return "", err
	}
	r, err := z.api.Config.CreateConfig(&config.CreateConfigParams{Context: ctx, Config: &rest_model.ConfigCreate{
		Name: ptr(o.Name), ConfigTypeID: ptr(typeID), Data: data, Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

// update changes the config's data in place; a config whose type differs
// is deleted and created anew, as the type cannot change in place.
func (k configKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[configSpec]) error {
	if have.Spec.Type != want.Spec.Type {
		if err := k.remove(ctx, z, have); err != nil {
			return err
		}
		newID, err := k.create(ctx, z, want)
		if err == nil {
			z.remember(k.kind(), want.Name, newID)
		}
		return err
	}
	var data any
	if err := json.Unmarshal([]byte(want.Spec.Data), &data); err != nil {
		return err
	}
	_, err := z.api.Config.UpdateConfig(&config.UpdateConfigParams{Context: ctx, ID: have.ID, Config: &rest_model.ConfigUpdate{
		Name: ptr(want.Name), Data: data, Tags: managedTags(),
	}}, nil)
	return err
}

func (configKind) remove(ctx context.Context, z *zitiSide, o zitiObject[configSpec]) error {
	_, err := z.api.Config.DeleteConfig(&config.DeleteConfigParams{Context: ctx, ID: o.ID}, nil)
	return err
}
