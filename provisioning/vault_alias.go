package provisioning

import (
	"context"
	"fmt"
	"sync"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultAlias is the plan's name of a service's entity alias.
const kindVaultAlias = "vault entity alias"

// aliasKind is the entity alias that ties logins through a service's
// AppRole role to its entity: named after the role's role_id, on the
// AppRole mount.
type aliasKind struct{}

func (aliasKind) converge(_ context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	create := []Change{{Op: OpCreate, Kind: kindVaultAlias, Name: s.name,
		Detail: "login through approle role " + s.name + " is entity " + s.name, apply: v.applyAlias(s.name)}}
	if s.entity == nil || s.role == nil {
		return create, nil
	}
	switch problem := aliasProblem(v.aliases, s.entity.ID, s.roleID); problem {
	case "":
		return nil, nil
	case "missing":
		return create, nil
	default:
		return []Change{{Op: OpUpdate, Kind: kindVaultAlias, Name: s.name, Detail: problem, apply: v.applyAlias(s.name)}}, nil
	}
}

func (aliasKind) remove(_ context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	if v.mount == nil || !v.mountOwned {
		return nil, nil
	}
	var out []Change
	for _, a := range s.entity.AliasesOn(v.mount.Accessor) {
		id := a.ID
		out = append(out, Change{Op: OpDelete, Kind: kindVaultAlias, Name: s.name,
			apply: func(ctx context.Context) error { return v.del(ctx, "identity/entity-alias/id/"+id) }})
	}
	return out, nil
}

// aliasProblem says what is wrong with the aliases of entity (id entityID)
// on the AppRole mount, given the service's role_id and every alias on that
// mount: "" when the entity has exactly one alias there, named roleID.
func aliasProblem(all []vault.Alias, entityID, roleID string) string {
	var mine []vault.Alias
	found := false
	for _, a := range all {
		if a.CanonicalID == entityID {
			mine = append(mine, a)
		}
		if a.Name == roleID {
			found = true
			if a.CanonicalID != entityID {
				return "the role's alias belongs to another entity"
			}
		}
	}
	switch {
	case !found && len(mine) == 0:
		return "missing"
	case !found:
		return "alias name is not the role's current role_id"
	case len(mine) > 1:
		return "entity has extra aliases on the mount"
	}
	return ""
}

// aliasesOnMount lists every entity alias on the auth mount with the given accessor.
func (v *vaultSide) aliasesOnMount(ctx context.Context, accessor string) ([]vault.Alias, error) {
	ids, info, err := v.list(ctx, "identity/entity-alias/id")
	if err != nil {
		return nil, err
	}
	var out []vault.Alias
	for _, id := range ids {
		m, _ := info[id].(map[string]any)
		if m == nil {
			continue
		}
		a := vault.ParseAlias(m)
		a.ID = id
		if a.MountAccessor == accessor {
			out = append(out, a)
		}
	}
	return out, nil
}

// applyAlias makes the alias of AppRole role s (name = role_id) on the
// mount belong to entity s, and removes the entity's other aliases on the
// mount. Every identifier is read when it runs: the mount, role and
// entity may have been created by earlier changes of the same plan. It
// reads only what concerns s, so its cost does not grow with the number
// of services.
func (v *vaultSide) applyAlias(s string) func(context.Context) error {
	return func(ctx context.Context) error {
		accessor, err := v.mountAccessor(ctx)
		if err != nil {
			return err
		}
		roleID, err := v.roleID(ctx, s)
		if err != nil {
			return err
		}
		e, err := v.entityByName(ctx, s)
		if err != nil {
			return err
		}
		if e == nil || !managedEntity(e) {
			return fmt.Errorf("vault entity %q is missing or not ztedge's", s)
		}
		for _, a := range e.AliasesOn(accessor) {
			if a.Name != roleID {
				if err := v.del(ctx, "identity/entity-alias/id/"+a.ID); err != nil {
					return err
				}
			}
		}
		target, err := v.aliasByName(ctx, accessor, roleID)
		if err != nil {
			return err
		}
		body := map[string]any{"name": roleID, "mount_accessor": accessor, "canonical_id": e.ID}
		switch {
		case target == nil:
			_, err = v.write(ctx, "identity/entity-alias", body)
		case target.CanonicalID != e.ID:
			// A login happened before the alias existed and Vault made an
			// entity of its own for it: move the alias to entity s.
			_, err = v.write(ctx, "identity/entity-alias/id/"+target.ID, body)
		}
		return err
	}
}

// aliasByName returns the alias with the given name on the mount with the
// given accessor, nil when there is none.
func (v *vaultSide) aliasByName(ctx context.Context, accessor, name string) (*vault.Alias, error) {
	_, a, err := aliasOwner(ctx, v.c, accessor, name)
	return a, err
}

// aliasOwner returns the alias with the given name on the mount with the
// given accessor and the entity it belongs to; nil and nil when there is
// no such alias.
func aliasOwner(ctx context.Context, c *vaultapi.Client, accessor, name string) (*vault.Entity, *vault.Alias, error) {
	data, err := vault.Write(ctx, c, "identity/lookup/entity", map[string]any{
		"alias_name": name, "alias_mount_accessor": accessor,
	})
	if err != nil || data == nil {
		return nil, nil, err
	}
	e := vault.ParseEntity(data)
	for _, a := range e.AliasesOn(accessor) {
		if a.Name == name {
			return e, &a, nil
		}
	}
	return e, nil, nil
}

// mountAccessor returns the accessor of ztedge's AppRole mount, read once
// when a plan runs (the mount may be created by the same plan).
func (v *vaultSide) mountAccessor(ctx context.Context) (string, error) {
	v.accessorMu.Lock()
	defer v.accessorMu.Unlock()
	if v.accessor != "" {
		return v.accessor, nil
	}
	m, owned, err := v.authMount(ctx)
	if err != nil {
		return "", err
	}
	if m == nil || !owned {
		return "", fmt.Errorf("the approle mount %s is missing or not ztedge's", v.mountPath())
	}
	v.accessor = m.Accessor
	return v.accessor, nil
}

// accessorCache is the part of [vaultSide] that mountAccessor fills.
type accessorCache struct {
	accessorMu sync.Mutex
	accessor   string
}
