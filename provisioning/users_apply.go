package provisioning

import (
	"context"
	"fmt"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
)

// Add creates user name (or brings an existing ztedge user back in line
// and gives it a new password) and returns it with its password. It
// refuses names of ztedge services and of Vault entities or OIDC roles
// that ztedge did not create as users, and needs the OIDC key to exist.
func (u *Users) Add(ctx context.Context, name string) (_ *User, err error) {
	defer prefixErr(&err)
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	return u.add(ctx, name, password)
}

// AddWithPasswordFile is [Users.Add] with the password of pf, which it
// puts in place once Vault has it. When Add fails, pf is discarded and the
// user's password in Vault, if any, has not been changed unless the
// failure came from the last step (setting the password) itself. If the
// password was set but the file cannot be put in place, the error says so.
func (u *Users) AddWithPasswordFile(ctx context.Context, name string, pf *PasswordFile) (_ *User, err error) {
	defer prefixErr(&err)
	defer pf.Discard()
	user, err := u.add(ctx, name, pf.password)
	if err != nil {
		return nil, err
	}
	if err := pf.Commit(); err != nil {
		return nil, fmt.Errorf("%w (user %s's password was changed in Vault: run ztedge user add again to set a new one)", err, name)
	}
	return user, nil
}

// add is [Users.Add] with the given password.
func (u *Users) add(ctx context.Context, name, password string) (_ *User, err error) {
	defer prefixErr(&err)
	if err := ValidateUserName(name); err != nil {
		return nil, err
	}
	e, err := u.entity(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := clash(name, e); err != nil {
		return nil, err
	}
	if e == nil {
		role, err := vault.Read(ctx, u.c, "identity/oidc/role/"+name)
		if err != nil {
			return nil, err
		}
		if role != nil {
			return nil, fmt.Errorf("vault OIDC role %q exists but belongs to no ztedge user (ztedge services and other clients use OIDC roles too): pick another user name", name)
		}
		// ztedge-user-<name> is also the policy name of a service called
		// user-<name>: without the user's entity, a policy of that name
		// is someone else's unless it is exactly what Add writes.
		policy := UserPolicyName(name)
		text, err := u.policy(ctx, policy)
		if err != nil {
			return nil, err
		}
		if text != "" && !samePolicyText(text, userPolicyText(name)) {
			return nil, fmt.Errorf("vault policy %q exists but belongs to no ztedge user (a ztedge service named user-%s has a policy of that name): refusing to overwrite it; pick another user name", policy, name)
		}
	}
	if err := u.checkKey(ctx); err != nil {
		return nil, err
	}
	accessor, err := u.ensureMount(ctx)
	if err != nil {
		return nil, err
	}

	policy := UserPolicyName(name)
	if err := u.c.Sys().PutPolicyWithContext(ctx, policy, userPolicyText(name)); err != nil {
		return nil, fmt.Errorf("writing vault policy %s: %w", policy, vault.Sanitize(err))
	}
	if e == nil {
		if _, err := vault.Write(ctx, u.c, "identity/entity", map[string]any{
			"name":     name,
			"metadata": map[string]string{UserMetadataKey: "true"},
		}); err != nil {
			return nil, err
		}
		if e, err = u.entity(ctx, name); err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("vault entity %q was created but cannot be read back", name)
		}
	}
	if err := u.ensureAlias(ctx, name, e, accessor); err != nil {
		return nil, err
	}
	if _, err := vault.Write(ctx, u.c, "identity/oidc/role/"+name, map[string]any{
		"key":       u.opts.Key,
		"client_id": u.opts.Audience,
		"template":  oidcTemplate(name),
		"ttl":       int64(u.opts.TTL / time.Second),
	}); err != nil {
		return nil, err
	}
	// The login comes last: it works only once everything else is in place.
	if _, err := vault.Write(ctx, u.c, u.userPath(name), map[string]any{
		"password":       password,
		"token_policies": []string{policy},
		"token_ttl":      int64(u.opts.TokenTTL / time.Second),
		"token_max_ttl":  int64(u.opts.TokenTTL / time.Second),
	}); err != nil {
		return nil, err
	}
	return &User{
		Name:      name,
		Password:  password,
		EntityID:  e.ID,
		Mount:     u.opts.Mount,
		LoginPath: "auth/" + u.opts.Mount + "/login/" + name,
		TokenPath: "identity/oidc/token/" + name,
	}, nil
}

// Remove deletes exactly what [Users.Add] created for name: the userpass
// user, the OIDC role, the entity (with its aliases) and the policy. The
// userpass mount stays. It refuses ztedge services and entities ztedge did
// not create as users, and reports a user that does not exist.
func (u *Users) Remove(ctx context.Context, name string) (err error) {
	defer prefixErr(&err)
	if err := ValidateUserName(name); err != nil {
		return err
	}
	e, err := u.entity(ctx, name)
	if err != nil {
		return err
	}
	if err := clash(name, e); err != nil {
		return err
	}
	found := e != nil
	_, mountOK, err := ownedAuthMount(ctx, u.c, u.opts.Mount, "userpass")
	if err != nil {
		return err
	}
	if mountOK {
		user, err := vault.Read(ctx, u.c, u.userPath(name))
		if err != nil {
			return err
		}
		if user != nil {
			found = true
			if err := vault.Delete(ctx, u.c, u.userPath(name)); err != nil {
				return err
			}
		}
	}
	// Without the entity, the OIDC role is only ours if it is exactly what
	// Add writes (a half-finished Add); otherwise it is left alone.
	role, err := vault.Read(ctx, u.c, "identity/oidc/role/"+name)
	if err != nil {
		return err
	}
	if role != nil && (e != nil || u.isUserRole(name, role)) {
		found = true
		if err := vault.Delete(ctx, u.c, "identity/oidc/role/"+name); err != nil {
			return err
		}
	}
	if e != nil {
		if err := vault.Delete(ctx, u.c, "identity/entity/id/"+e.ID); err != nil {
			return err
		}
	}
	// Without the entity, the policy is only the user's if it is exactly
	// what Add writes: ztedge-user-<name> is also the policy of a service
	// called user-<name>.
	policy := UserPolicyName(name)
	text, err := u.policy(ctx, policy)
	if err != nil {
		return err
	}
	if text != "" && (e != nil || samePolicyText(text, userPolicyText(name))) {
		found = true
		if err := u.c.Sys().DeletePolicyWithContext(ctx, policy); err != nil {
			return fmt.Errorf("deleting vault policy %s: %w", policy, vault.Sanitize(err))
		}
	}
	if !found {
		return fmt.Errorf("there is no ztedge user %q in Vault", name)
	}
	return nil
}

// isUserRole reports whether an OIDC role is exactly what Add writes.
func (u *Users) isUserRole(name string, role map[string]any) bool {
	return vault.String(role["key"]) == u.opts.Key && vault.String(role["client_id"]) == u.opts.Audience &&
		normJSON(vault.String(role["template"])) == normJSON(oidcTemplate(name))
}

// policy returns the text of ACL policy name, "" when it does not exist.
func (u *Users) policy(ctx context.Context, name string) (string, error) {
	text, err := u.c.Sys().GetPolicyWithContext(ctx, name)
	if err != nil && !vault.IsNotFound(err) {
		return "", fmt.Errorf("reading vault policy %s: %w", name, vault.Sanitize(err))
	}
	return text, nil
}

// userPath is the userpass path of user name.
func (u *Users) userPath(name string) string { return "auth/" + u.opts.Mount + "/users/" + name }

// entity reads entity name, nil when it does not exist.
func (u *Users) entity(ctx context.Context, name string) (*vault.Entity, error) {
	data, err := vault.Read(ctx, u.c, "identity/entity/name/"+name)
	if err != nil || data == nil {
		return nil, err
	}
	return vault.ParseEntity(data), nil
}

// ensureMount enables the userpass mount when missing and returns its
// accessor; a mount of another type or description is refused.
func (u *Users) ensureMount(ctx context.Context) (string, error) {
	m, owned, err := ownedAuthMount(ctx, u.c, u.opts.Mount, "userpass")
	if err != nil {
		return "", err
	}
	if m == nil {
		err := u.c.Sys().EnableAuthWithOptionsWithContext(ctx, u.opts.Mount, &vaultapi.EnableAuthOptions{
			Type: "userpass", Description: vaultMountDescription,
		})
		if err != nil {
			return "", fmt.Errorf("enabling the userpass auth method at %s: %w", u.opts.Mount, vault.Sanitize(err))
		}
		if m, owned, err = ownedAuthMount(ctx, u.c, u.opts.Mount, "userpass"); err != nil {
			return "", err
		}
		if m == nil {
			return "", fmt.Errorf("the userpass auth method at %s was enabled but is not listed", u.opts.Mount)
		}
	}
	if !owned {
		return "", fmt.Errorf("vault auth mount %q exists but is not ztedge's userpass mount (type %q, description %q; want userpass described %q): choose another mount", u.opts.Mount, m.Type, m.Description, vaultMountDescription)
	}
	return m.Accessor, nil
}

// ensureAlias makes the alias name on the mount belong to entity e.
func (u *Users) ensureAlias(ctx context.Context, name string, e *vault.Entity, accessor string) error {
	for _, a := range e.AliasesOn(accessor) {
		if a.Name == name {
			return nil
		}
	}
	body := map[string]any{"name": name, "mount_accessor": accessor, "canonical_id": e.ID}
	// A login before the alias existed makes Vault create an entity of its
	// own with this alias: move the alias to e.
	owner, a, err := aliasOwner(ctx, u.c, accessor, name)
	if err != nil {
		return err
	}
	if owner != nil {
		if managedEntity(owner) || (owner.ID != e.ID && len(owner.Metadata) > 0 && !isUser(owner)) {
			return fmt.Errorf("the login alias %q on %s belongs to vault entity %q, which is not a ztedge user", name, u.opts.Mount, owner.Name)
		}
		if a != nil {
			_, err := vault.Write(ctx, u.c, "identity/entity-alias/id/"+a.ID, body)
			return err
		}
	}
	_, err = vault.Write(ctx, u.c, "identity/entity-alias", body)
	return err
}
