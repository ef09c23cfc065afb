package provisioning

import (
	"context"
	"fmt"
	"sort"

	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultEntity is the plan's name of a service's Vault entity.
const kindVaultEntity = "vault entity"

// entityKind is a service's entity: created first, it is what marks the
// service's other objects as ztedge's.
type entityKind struct{}

// managedEntity reports whether ztedge created the entity.
func managedEntity(e *vault.Entity) bool { return e.Metadata[vaultManagedKey] == ManagedValue }

func (entityKind) converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	e := v.managed[s.name] // read by load
	if e == nil {
		var err error
		if e, err = v.entityByName(ctx, s.name); err != nil {
			return nil, err
		}
	}
	s.entity = e
	policy := vaultPolicyName(s.name)
	if e != nil && !managedEntity(e) {
		return nil, fmt.Errorf("vault entity %q already exists and was not created by ztedge (its metadata lacks %s=%s): ztedge will not take it over; rename the service or delete that entity", s.name, vaultManagedKey, ManagedValue)
	}
	if e == nil {
		// Nothing of s is ztedge's yet: refuse to overwrite objects
		// someone else made under the names ztedge would use.
		if _, exists, err := v.readPolicy(ctx, policy); err != nil {
			return nil, err
		} else if exists {
			return nil, fmt.Errorf("vault policy %q already exists but service %q has no ztedge entity, so ztedge did not create it: ztedge will not overwrite it; rename the service or delete that policy", policy, s.name)
		}
		if r, err := v.readOIDCRole(ctx, s.name); err != nil {
			return nil, err
		} else if r != nil {
			return nil, fmt.Errorf("vault oidc role %q already exists but service %q has no ztedge entity, so ztedge did not create it: ztedge will not overwrite it; rename the service or delete that role", s.name, s.name)
		}
		return []Change{{Op: OpCreate, Kind: kindVaultEntity, Name: s.name,
			Detail: "policies [" + policy + "]", apply: v.applyEntity(s.name)}}, nil
	}
	var d fieldDiffs
	d.set("policies", e.Policies, []string{policy})
	d.boolean("disabled", e.Disabled, false)
	if len(d) == 0 {
		return nil, nil
	}
	return []Change{{Op: OpUpdate, Kind: kindVaultEntity, Name: s.name, Detail: d.detail(), apply: v.applyEntity(s.name)}}, nil
}

// remove deletes the entity, checking again when it runs that it is
// still marked as ztedge's.
func (entityKind) remove(_ context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	id, name := s.entity.ID, s.name
	return []Change{{Op: OpDelete, Kind: kindVaultEntity, Name: name,
		apply: func(ctx context.Context) error {
			data, err := v.read(ctx, "identity/entity/id/"+id)
			if err != nil || data == nil {
				return err
			}
			if !managedEntity(vault.ParseEntity(data)) {
				return fmt.Errorf("vault entity %q is no longer marked as ztedge's: not deleting it", name)
			}
			return v.del(ctx, "identity/entity/id/"+id)
		}}}, nil
}

// applyEntity creates entity s, or brings its policies back to [ztedge-s]
// and enables it. It checks again, at apply time, that an existing entity
// is ztedge's: writing identity/entity with an existing name would
// otherwise update someone else's entity.
func (v *vaultSide) applyEntity(s string) func(context.Context) error {
	policy := vaultPolicyName(s)
	return func(ctx context.Context) error {
		e, err := v.entityByName(ctx, s)
		if err != nil {
			return err
		}
		if e == nil {
			_, err := v.write(ctx, "identity/entity", map[string]any{
				"name":     s,
				"policies": []string{policy},
				"metadata": map[string]string{vaultManagedKey: ManagedValue},
			})
			return err
		}
		if !managedEntity(e) {
			return fmt.Errorf("vault entity %q exists and was not created by ztedge: refusing to change it", s)
		}
		_, err = v.write(ctx, "identity/entity/id/"+e.ID, map[string]any{
			"policies": []string{policy},
			"disabled": false,
		})
		return err
	}
}

// entityByName reads entity name, nil when it does not exist.
func (v *vaultSide) entityByName(ctx context.Context, name string) (*vault.Entity, error) {
	data, err := v.read(ctx, "identity/entity/name/"+name)
	if err != nil || data == nil {
		return nil, err
	}
	return vault.ParseEntity(data), nil
}

// managedEntities returns every entity ztedge created, sorted by name.
func (v *vaultSide) managedEntities(ctx context.Context) ([]*vault.Entity, error) {
	ids, _, err := v.list(ctx, "identity/entity/id")
	if err != nil {
		return nil, err
	}
	all, err := collect(ctx, len(ids), func(ctx context.Context, i int) (*vault.Entity, error) {
		data, err := v.read(ctx, "identity/entity/id/"+ids[i])
		if err != nil || data == nil { // nil: deleted meanwhile
			return nil, err
		}
		return vault.ParseEntity(data), nil
	})
	if err != nil {
		return nil, err
	}
	var out []*vault.Entity
	for _, e := range all {
		if e != nil && managedEntity(e) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
