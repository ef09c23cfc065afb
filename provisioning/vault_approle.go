package provisioning

import (
	"context"
	"fmt"

	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultAppRole is the plan's name of a service's AppRole role.
const kindVaultAppRole = "vault approle role"

// appRoleKind is a service's AppRole role. The mount is ztedge's, so a role
// there is ztedge's.
type appRoleKind struct{}

// appRoleConfig is the part of an AppRole role ztedge manages.
type appRoleConfig struct {
	TokenPolicies   []string
	TokenPeriod     int64 // seconds
	TokenTTL        int64 // seconds
	TokenMaxTTL     int64 // seconds
	SecretIDTTL     int64 // seconds
	SecretIDNumUses int64
	BindSecretID    bool
}

// desiredAppRole is the AppRole role configuration of service s: periodic
// tokens carrying only the service's policy (and Vault's default policy,
// which lets the token renew itself), secret_ids that never expire.
func desiredAppRole(t *Topology, s string) appRoleConfig {
	return appRoleConfig{
		TokenPolicies: []string{vaultPolicyName(s)},
		TokenPeriod:   durationSeconds(t.Vault.TokenPeriod),
		BindSecretID:  true,
	}
}

// parseAppRoleConfig reads an auth/<mount>/role/<name> answer.
func parseAppRoleConfig(data map[string]any) (appRoleConfig, error) {
	var r appRoleConfig
	var err error
	r.TokenPolicies = vault.Strings(data["token_policies"])
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"token_period", &r.TokenPeriod},
		{"token_ttl", &r.TokenTTL},
		{"token_max_ttl", &r.TokenMaxTTL},
		{"secret_id_ttl", &r.SecretIDTTL},
		{"secret_id_num_uses", &r.SecretIDNumUses},
	} {
		if *f.dst, err = vault.Seconds(data[f.name]); err != nil {
			return r, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	r.BindSecretID = vault.Bool(data["bind_secret_id"])
	return r, nil
}

// diff lists the fields of AppRole role configuration have that differ from want.
func (have appRoleConfig) diff(want appRoleConfig) fieldDiffs {
	var d fieldDiffs
	d.set("token_policies", have.TokenPolicies, want.TokenPolicies)
	d.secs("token_period", have.TokenPeriod, want.TokenPeriod)
	d.secs("token_ttl", have.TokenTTL, want.TokenTTL)
	d.secs("token_max_ttl", have.TokenMaxTTL, want.TokenMaxTTL)
	d.secs("secret_id_ttl", have.SecretIDTTL, want.SecretIDTTL)
	d.num("secret_id_num_uses", have.SecretIDNumUses, want.SecretIDNumUses)
	d.boolean("bind_secret_id", have.BindSecretID, want.BindSecretID)
	return d
}

func (appRoleKind) converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	if v.mount != nil {
		var err error
		if s.role, err = v.readAppRole(ctx, s.name); err != nil {
			return nil, err
		}
		if s.role != nil {
			if s.roleID, err = v.roleID(ctx, s.name); err != nil {
				return nil, err
			}
		}
	}
	want := desiredAppRole(v.t, s.name)
	path := v.appRolePath(s.name)
	write := func(ctx context.Context) error {
		_, err := v.write(ctx, path, map[string]any{
			"token_policies":     want.TokenPolicies,
			"token_period":       want.TokenPeriod,
			"token_ttl":          want.TokenTTL,
			"token_max_ttl":      want.TokenMaxTTL,
			"secret_id_ttl":      want.SecretIDTTL,
			"secret_id_num_uses": want.SecretIDNumUses,
			"bind_secret_id":     want.BindSecretID,
		})
		return err
	}
	if s.role == nil {
		return []Change{{Op: OpCreate, Kind: kindVaultAppRole, Name: s.name,
			Detail: "token_period " + fmtSeconds(want.TokenPeriod), apply: write}}, nil
	}
	if d := s.role.diff(want); len(d) > 0 {
		return []Change{{Op: OpUpdate, Kind: kindVaultAppRole, Name: s.name, Detail: d.detail(), apply: write}}, nil
	}
	return nil, nil
}

func (appRoleKind) remove(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	if v.mount == nil || !v.mountOwned {
		return nil, nil
	}
	if r, err := v.readAppRole(ctx, s.name); err != nil || r == nil {
		return nil, err
	}
	path := v.appRolePath(s.name)
	return []Change{{Op: OpDelete, Kind: kindVaultAppRole, Name: s.name,
		apply: func(ctx context.Context) error { return v.del(ctx, path) }}}, nil
}

// appRolePath is the path of AppRole role s.
func (v *vaultSide) appRolePath(s string) string { return "auth/" + v.mountPath() + "/role/" + s }

// readAppRole reads AppRole role s, nil when it does not exist.
func (v *vaultSide) readAppRole(ctx context.Context, s string) (*appRoleConfig, error) {
	data, err := v.read(ctx, v.appRolePath(s))
	if err != nil || data == nil {
		return nil, err
	}
	r, err := parseAppRoleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault approle role %q: %w", s, err)
	}
	return &r, nil
}

// roleID reads the role_id of AppRole role s.
func (v *vaultSide) roleID(ctx context.Context, s string) (string, error) {
	data, err := v.read(ctx, v.appRolePath(s)+"/role-id")
	if err != nil {
		return "", err
	}
	id := vault.String(data["role_id"])
	if id == "" {
		return "", fmt.Errorf("vault approle role %q in %s has no role_id", s, v.mountPath())
	}
	return id, nil
}
