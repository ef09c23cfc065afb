package provisioning

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultOIDCRole is the plan's name of a service's OIDC role.
const kindVaultOIDCRole = "vault oidc role"

// oidcRoleKind is the OIDC role that issues a service's identity tokens.
type oidcRoleKind struct{}

// oidcRoleConfig is the part of an OIDC role ztedge manages.
type oidcRoleConfig struct {
	Key      string
	ClientID string
	Template string // JSON, compared after normalisation
	TTL      int64  // seconds
}

// desiredOIDCRole is the OIDC role configuration of service s.
func desiredOIDCRole(t *Topology, s string) oidcRoleConfig {
	return oidcRoleConfig{
		Key:      t.Vault.Key,
		ClientID: t.JWT.Audience,
		Template: oidcTemplate(s),
		TTL:      durationSeconds(t.JWT.TTL),
	}
}

// oidcTemplate is the claims template of service s: {"name":"s"}.
func oidcTemplate(s string) string {
	b, _ := json.Marshal(map[string]string{JWTNameClaim: s})
	return string(b)
}

// parseOIDCRoleConfig reads an identity/oidc/role/<name> answer.
func parseOIDCRoleConfig(data map[string]any) (oidcRoleConfig, error) {
	var r oidcRoleConfig
	var err error
	r.Key = vault.String(data["key"])
	r.ClientID = vault.String(data["client_id"])
	r.Template = vault.String(data["template"])
	if r.TTL, err = vault.Seconds(data["ttl"]); err != nil {
		return r, fmt.Errorf("ttl: %w", err)
	}
	return r, nil
}

// diff lists the fields of OIDC role configuration have that differ from want.
func (have oidcRoleConfig) diff(want oidcRoleConfig) fieldDiffs {
	var d fieldDiffs
	d.str("key", have.Key, want.Key)
	d.str("client_id", have.ClientID, want.ClientID)
	d.str("template", normJSON(have.Template), normJSON(want.Template))
	d.secs("ttl", have.TTL, want.TTL)
	return d
}

func (oidcRoleKind) converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	have, err := v.readOIDCRole(ctx, s.name)
	if err != nil {
		return nil, err
	}
	want := desiredOIDCRole(v.t, s.name)
	path := "identity/oidc/role/" + s.name
	write := func(ctx context.Context) error {
		_, err := v.write(ctx, path, map[string]any{
			"key":       want.Key,
			"client_id": want.ClientID,
			"template":  want.Template,
			"ttl":       want.TTL,
		})
		return err
	}
	if have == nil {
		return []Change{{Op: OpCreate, Kind: kindVaultOIDCRole, Name: s.name,
			Detail: "key " + want.Key + ", client_id " + want.ClientID + ", ttl " + fmtSeconds(want.TTL), apply: write}}, nil
	}
	if d := have.diff(want); len(d) > 0 {
		return []Change{{Op: OpUpdate, Kind: kindVaultOIDCRole, Name: s.name, Detail: d.detail(), apply: write}}, nil
	}
	return nil, nil
}

func (oidcRoleKind) remove(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	if r, err := v.readOIDCRole(ctx, s.name); err != nil || r == nil {
		return nil, err
	}
	path := "identity/oidc/role/" + s.name
	return []Change{{Op: OpDelete, Kind: kindVaultOIDCRole, Name: s.name,
		apply: func(ctx context.Context) error { return v.del(ctx, path) }}}, nil
}

// readOIDCRole reads OIDC role s, nil when it does not exist.
func (v *vaultSide) readOIDCRole(ctx context.Context, s string) (*oidcRoleConfig, error) {
	data, err := v.read(ctx, "identity/oidc/role/"+s)
	if err != nil || data == nil {
		return nil, err
	}
	r, err := parseOIDCRoleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault oidc role %q: %w", s, err)
	}
	return &r, nil
}
