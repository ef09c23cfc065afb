package provisioning

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ztedge/ztedge/internal/vault"
)

// vaultDefaultKeyName is Vault's built-in OIDC key, never deleted.
const vaultDefaultKeyName = "default"

// kindVaultKey is the plan's name of the OIDC signing key.
const kindVaultKey = "vault oidc key"

// oidcKeyConfig is the part of an OIDC key ztedge manages.
type oidcKeyConfig struct {
	Algorithm        string
	AllowedClientIDs []string
	RotationPeriod   int64 // seconds
	VerificationTTL  int64 // seconds
}

// keyTimings chooses the key's rotation period and verification TTL (in
// seconds) for identity tokens living jwtTTL seconds: one day each, unless
// tokens live longer, in which case the verification TTL is twice the
// token TTL (it must exceed it: a token signed just before a rotation must
// still verify until it expires) and the rotation period grows so that the
// verification TTL stays within Vault's limit of ten rotation periods.
func keyTimings(jwtTTL int64) (rotation, verification int64) {
	const day = 24 * 60 * 60
	rotation, verification = day, day
	if verification <= jwtTTL {
		verification = 2 * jwtTTL
	}
	if verification > 10*rotation {
		rotation = (verification + 9) / 10
	}
	return rotation, verification
}

// desiredKey is the OIDC key configuration for t.
func desiredKey(t *Topology) oidcKeyConfig {
	rot, ver := keyTimings(durationSeconds(t.JWT.TTL))
	return oidcKeyConfig{
		Algorithm:        t.Vault.Algorithm,
		AllowedClientIDs: []string{t.JWT.Audience},
		RotationPeriod:   rot,
		VerificationTTL:  ver,
	}
}

// parseKeyConfig reads an identity/oidc/key answer.
func parseKeyConfig(data map[string]any) (oidcKeyConfig, error) {
	var k oidcKeyConfig
	var err error
	k.Algorithm = vault.String(data["algorithm"])
	k.AllowedClientIDs = vault.Strings(data["allowed_client_ids"])
	if k.RotationPeriod, err = vault.Seconds(data["rotation_period"]); err != nil {
		return k, fmt.Errorf("rotation_period: %w", err)
	}
	if k.VerificationTTL, err = vault.Seconds(data["verification_ttl"]); err != nil {
		return k, fmt.Errorf("verification_ttl: %w", err)
	}
	return k, nil
}

// diff lists the fields of key configuration have that differ from want.
func (have oidcKeyConfig) diff(want oidcKeyConfig) fieldDiffs {
	var d fieldDiffs
	d.str("algorithm", have.Algorithm, want.Algorithm)
	d.set("allowed_client_ids", have.AllowedClientIDs, want.AllowedClientIDs)
	d.secs("rotation_period", have.RotationPeriod, want.RotationPeriod)
	d.secs("verification_ttl", have.VerificationTTL, want.VerificationTTL)
	return d
}

// readKey reads the OIDC key, nil when it does not exist.
func (v *vaultSide) readKey(ctx context.Context) (*oidcKeyConfig, error) {
	data, err := v.read(ctx, "identity/oidc/key/"+v.t.Vault.Key)
	if err != nil || data == nil {
		return nil, err
	}
	k, err := parseKeyConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault oidc key %q: %w", v.t.Vault.Key, err)
	}
	return &k, nil
}

// planKey returns the change for the OIDC key (nil when it matches) and
// whether it must run after the roles (an update shortening verification_ttl).
func (v *vaultSide) planKey(ctx context.Context) (*Change, bool, error) {
	have, err := v.readKey(ctx)
	if err != nil {
		return nil, false, err
	}
	want := desiredKey(v.t)
	name := v.t.Vault.Key
	write := func(ctx context.Context) error {
		_, err := v.write(ctx, "identity/oidc/key/"+name, map[string]any{
			"algorithm":          want.Algorithm,
			"allowed_client_ids": want.AllowedClientIDs,
			"rotation_period":    want.RotationPeriod,
			"verification_ttl":   want.VerificationTTL,
		})
		return err
	}
	if have == nil {
		return &Change{Op: OpCreate, Kind: kindVaultKey, Name: name,
			Detail: fmt.Sprintf("%s, allowed_client_ids [%s]", want.Algorithm, strings.Join(want.AllowedClientIDs, " ")),
			apply:  write}, false, nil
	}
	d := have.diff(want)
	if len(d) == 0 {
		return nil, false, nil
	}
	if err := v.checkKeyUsers(ctx, *have, want); err != nil {
		return nil, false, err
	}
	return &Change{Op: OpUpdate, Kind: kindVaultKey, Name: name, Detail: d.detail(), apply: write},
		want.VerificationTTL < have.VerificationTTL, nil
}

// removeKey returns the change that deletes the OIDC key (nil when it is
// missing or Vault's default key), or an error when OIDC roles other than
// the given managed services' still use it.
func (v *vaultSide) removeKey(ctx context.Context, managed map[string]bool) (*Change, error) {
	key := v.t.Vault.Key
	if key == vaultDefaultKeyName {
		return nil, nil
	}
	have, err := v.readKey(ctx)
	if err != nil || have == nil {
		return nil, err
	}
	users, err := v.foreignKeyUsers(ctx, managed)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return nil, fmt.Errorf("vault oidc key %q is still used by OIDC roles ztedge did not create (%s): delete them or point them at another key, then destroy again", key, strings.Join(users, ", "))
	}
	return &Change{Op: OpDelete, Kind: kindVaultKey, Name: key, stage: stageVaultShared,
		apply: func(ctx context.Context) error { return v.del(ctx, "identity/oidc/key/"+key) }}, nil
}

// checkKeyUsers refuses a key update that would stop OIDC roles ztedge
// did not create (other applications', ztedge users') from getting tokens
// signed with the key: the key carries no mark of its creator, so it may
// be theirs.
func (v *vaultSide) checkKeyUsers(ctx context.Context, have, want oidcKeyConfig) error {
	ours := map[string]bool{}
	for name := range v.managed {
		ours[name] = true
	}
	for _, s := range v.t.Services {
		ours[s.Name] = true
	}
	names, roles, err := v.foreignKeyRoles(ctx, ours)
	if err != nil {
		return err
	}
	var cut []string
	allows := func(k oidcKeyConfig, clientID string) bool {
		return slices.Contains(k.AllowedClientIDs, "*") || slices.Contains(k.AllowedClientIDs, clientID)
	}
	for i, r := range roles {
		if allows(have, r.ClientID) && !allows(want, r.ClientID) {
			cut = append(cut, fmt.Sprintf("%s (client_id %q)", names[i], r.ClientID))
		}
	}
	if len(cut) > 0 {
		return fmt.Errorf("vault oidc key %q is also used by OIDC roles ztedge did not create: %s; setting its allowed_client_ids to [%s] would stop them from getting tokens: choose another vault.key, or change or delete those roles",
			v.t.Vault.Key, strings.Join(cut, ", "), strings.Join(want.AllowedClientIDs, " "))
	}
	return nil
}

// foreignKeyUsers lists the OIDC roles that use the key and are not the
// role of a managed service.
func (v *vaultSide) foreignKeyUsers(ctx context.Context, managed map[string]bool) ([]string, error) {
	users, _, err := v.foreignKeyRoles(ctx, managed)
	return users, err
}

// foreignKeyRoles returns the OIDC roles that use the key and are not the
// role of a managed service, sorted by name.
func (v *vaultSide) foreignKeyRoles(ctx context.Context, managed map[string]bool) ([]string, []*oidcRoleConfig, error) {
	names, _, err := v.list(ctx, "identity/oidc/role")
	if err != nil {
		return nil, nil, err
	}
	var others []string
	for _, n := range names {
		if !managed[n] {
			others = append(others, n)
		}
	}
	sort.Strings(others)
	roles, err := collect(ctx, len(others), func(ctx context.Context, i int) (*oidcRoleConfig, error) {
		return v.readOIDCRole(ctx, others[i])
	})
	if err != nil {
		return nil, nil, err
	}
	var users []string
	var configs []*oidcRoleConfig
	for i, r := range roles {
		if r != nil && r.Key == v.t.Vault.Key {
			users = append(users, others[i])
			configs = append(configs, r)
		}
	}
	return users, configs, nil
}
