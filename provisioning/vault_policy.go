package provisioning

import (
	"context"
	"fmt"
	"strings"

	"github.com/ztedge/ztedge/internal/vault"
)

const (
	// kindVaultPolicy is the plan's name of a service's ACL policy.
	kindVaultPolicy = "vault policy"
	// vaultPolicyPrefix starts the name of every per-service policy.
	vaultPolicyPrefix = "ztedge-"
)

// policyKind is a service's ACL policy.
type policyKind struct{}

// vaultPolicyName is the name of the ACL policy of service s. Vault
// lower-cases policy names, so the name is lower-cased here too.
func vaultPolicyName(s string) string { return vaultPolicyPrefix + strings.ToLower(s) }

// vaultPolicyText is the ACL policy of service s: read its own identity
// token, and introspect tokens.
func vaultPolicyText(s string) string {
	return fmt.Sprintf(`# Managed by ztedge: identity token of service %s.
path "identity/oidc/token/%s" {
  capabilities = ["read"]
}

path "identity/oidc/introspect" {
  capabilities = ["create", "update"]
}
`, s, s)
}

// samePolicyText reports whether two policy documents are the same, ignoring
// leading/trailing white space and line-ending differences.
func samePolicyText(a, b string) bool {
	n := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	return n(a) == n(b)
}

func (policyKind) converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	policy, want := vaultPolicyName(s.name), v.policyText(s.name)
	text, exists, err := v.readPolicy(ctx, policy)
	if err != nil {
		return nil, err
	}
	if exists && samePolicyText(text, want) {
		return nil, nil
	}
	op, detail := OpCreate, ""
	if exists {
		op, detail = OpUpdate, "rules differ"
	}
	return []Change{{Op: op, Kind: kindVaultPolicy, Name: policy, Detail: detail,
		apply: func(ctx context.Context) error {
			if err := v.c.Sys().PutPolicyWithContext(ctx, policy, want); err != nil {
				return fmt.Errorf("writing policy %s: %w", policy, vault.Sanitize(err))
			}
			return nil
		}}}, nil
}

func (policyKind) remove(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	policy := vaultPolicyName(s.name)
	if _, exists, err := v.readPolicy(ctx, policy); err != nil || !exists {
		return nil, err
	}
	return []Change{{Op: OpDelete, Kind: kindVaultPolicy, Name: policy,
		apply: func(ctx context.Context) error {
			if err := v.c.Sys().DeletePolicyWithContext(ctx, policy); err != nil && !vault.IsNotFound(err) {
				return fmt.Errorf("deleting policy %s: %w", policy, vault.Sanitize(err))
			}
			return nil
		}}}, nil
}

// readPolicy returns the text of ACL policy name and whether it exists.
func (v *vaultSide) readPolicy(ctx context.Context, name string) (text string, exists bool, err error) {
	text, err = v.c.Sys().GetPolicyWithContext(ctx, name)
	if err != nil {
		if vault.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading vault policy %q: %w", name, vault.Sanitize(err))
	}
	return text, text != "", nil
}
