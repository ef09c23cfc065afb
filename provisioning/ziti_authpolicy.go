package provisioning

import (
	"context"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/auth_policy"
	"github.com/openziti/edge-api/rest_model"
)

// authPolicyKind is the auth policy of service identities: Vault JWTs
// through ztedge's signer only.
type authPolicyKind struct{}

// authPolicySpec is the part of an auth policy ztedge manages.
type authPolicySpec struct {
	ExtJWTAllowed  bool
	AllowedSigners []string // signer names
	CertAllowed    bool
	UpdbAllowed    bool
}

func (want authPolicySpec) diff(have authPolicySpec) fieldDiffs {
	var d fieldDiffs
	d.boolean("primary.extJwt.allowed", have.ExtJWTAllowed, want.ExtJWTAllowed)
	d.set("primary.extJwt.allowedSigners", have.AllowedSigners, want.AllowedSigners)
	d.boolean("primary.cert.allowed", have.CertAllowed, want.CertAllowed)
	d.boolean("primary.updb.allowed", have.UpdbAllowed, want.UpdbAllowed)
	return d
}

func (authPolicyKind) kind() string { return "ziti auth-policy" }

func (k authPolicyKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[authPolicySpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.AuthPolicyDetail, error) {
		r, err := z.api.AuthPolicy.ListAuthPolicies(&auth_policy.ListAuthPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing auth policies: %w", err)
	}
	out := make([]zitiObject[authPolicySpec], 0, len(all))
	for _, a := range all {
		var s authPolicySpec
		if p := a.Primary; p != nil {
			if p.ExtJWT != nil {
				s.ExtJWTAllowed = isTrue(p.ExtJWT.Allowed)
				for _, id := range p.ExtJWT.AllowedSigners {
					s.AllowedSigners = append(s.AllowedSigners, z.nameOr(signerKind{}.kind(), id))
				}
			}
			s.CertAllowed = p.Cert != nil && isTrue(p.Cert.Allowed)
			s.UpdbAllowed = p.Updb != nil && isTrue(p.Updb.Allowed)
		}
		z.remember(k.kind(), str(a.Name), str(a.ID))
		out = append(out, zitiObject[authPolicySpec]{Name: str(a.Name), ID: str(a.ID), Managed: isManaged(a.Tags), Spec: s})
	}
	return out, nil
}

// model is the API's form of o.
func (authPolicyKind) model(z *zitiSide, o zitiObject[authPolicySpec]) (*rest_model.AuthPolicyCreate, error) {
	signers, err := z.idsOf(signerKind{}.kind(), o.Spec.AllowedSigners)
	if err != nil {
		return nil, err
	}
	return &rest_model.AuthPolicyCreate{
		Name: ptr(o.Name),
		Tags: managedTags(),
		Primary: &rest_model.AuthPolicyPrimary{
			Cert:   &rest_model.AuthPolicyPrimaryCert{Allowed: ptr(o.Spec.CertAllowed), AllowExpiredCerts: ptr(false)},
			ExtJWT: &rest_model.AuthPolicyPrimaryExtJWT{Allowed: ptr(o.Spec.ExtJWTAllowed), AllowedSigners: signers},
			Updb: &rest_model.AuthPolicyPrimaryUpdb{Allowed: ptr(o.Spec.UpdbAllowed),
				LockoutDurationMinutes: ptr(int64(0)), MaxAttempts: ptr(int64(5)), MinPasswordLength: ptr(int64(12)),
				RequireMixedCase: ptr(true), RequireNumberChar: ptr(true), RequireSpecialChar: ptr(true)},
		},
		Secondary: &rest_model.AuthPolicySecondary{RequireTotp: ptr(false)},
	}, nil
}

func (k authPolicyKind) create(ctx context.Context, z *zitiSide, o zitiObject[authPolicySpec]) (string, error) {
	m, err := k.model(z, o)
	if err != nil {
		return "", err
	}
	r, err := z.api.AuthPolicy.CreateAuthPolicy(&auth_policy.CreateAuthPolicyParams{Context: ctx, AuthPolicy: m}, nil)
	if err != nil {
		return "", err
	}
	return r.Payload.Data.ID, nil
}

func (k authPolicyKind) update(ctx context.Context, z *zitiSide, have, o zitiObject[authPolicySpec]) error {
	m, err := k.model(z, o)
	if err != nil {
		return err
	}
	_, err = z.api.AuthPolicy.UpdateAuthPolicy(&auth_policy.UpdateAuthPolicyParams{Context: ctx, ID: have.ID, AuthPolicy: &rest_model.AuthPolicyUpdate{AuthPolicyCreate: *m}}, nil)
	return err
}

func (authPolicyKind) remove(ctx context.Context, z *zitiSide, o zitiObject[authPolicySpec]) error {
	_, err := z.api.AuthPolicy.DeleteAuthPolicy(&auth_policy.DeleteAuthPolicyParams{Context: ctx, ID: o.ID}, nil)
	return err
}
