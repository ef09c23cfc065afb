package provisioning

import (
	"context"
	"fmt"

	"github.com/go-openapi/strfmt"
	"github.com/openziti/edge-api/rest_management_api_client/external_jwt_signer"
	"github.com/openziti/edge-api/rest_model"
)

// signerKind is the external JWT signer that trusts Vault's identity tokens.
type signerKind struct{}

// signerSpec is the part of an external JWT signer ztedge manages.
type signerSpec struct {
	Issuer, Audience, JWKSEndpoint, ClaimsProperty string
	UseExternalID, Enabled                         bool
}

func (want signerSpec) diff(have signerSpec) fieldDiffs {
	var d fieldDiffs
	d.str("issuer", have.Issuer, want.Issuer)
	d.str("audience", have.Audience, want.Audience)
	d.str("jwksEndpoint", have.JWKSEndpoint, want.JWKSEndpoint)
	d.str("claimsProperty", have.ClaimsProperty, want.ClaimsProperty)
	d.boolean("useExternalId", have.UseExternalID, want.UseExternalID)
	d.boolean("enabled", have.Enabled, want.Enabled)
	return d
}

func (signerKind) kind() string { return "ziti external-jwt-signer" }

func (k signerKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[signerSpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.ExternalJWTSignerDetail, error) {
		r, err := z.api.ExternalJWTSigner.ListExternalJWTSigners(&external_jwt_signer.ListExternalJWTSignersParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing external JWT signers: %w", err)
	}
	out := make([]zitiObject[signerSpec], 0, len(all))
	for _, s := range all {
		jwks := ""
		if s.JwksEndpoint != nil {
			jwks = s.JwksEndpoint.String()
		}
		z.remember(k.kind(), str(s.Name), str(s.ID))
		out = append(out, zitiObject[signerSpec]{Name: str(s.Name), ID: str(s.ID), Managed: isManaged(s.Tags), Spec: signerSpec{
			Issuer: str(s.Issuer), Audience: str(s.Audience), JWKSEndpoint: jwks, ClaimsProperty: str(s.ClaimsProperty),
			UseExternalID: isTrue(s.UseExternalID), Enabled: isTrue(s.Enabled),
		}})
	}
	return out, nil
}

func (k signerKind) create(ctx context.Context, z *zitiSide, o zitiObject[signerSpec]) (string, error) {
	jwks := strfmt.URI(o.Spec.JWKSEndpoint)
	r, err := z.api.ExternalJWTSigner.CreateExternalJWTSigner(&external_jwt_signer.CreateExternalJWTSignerParams{Context: ctx,
		ExternalJWTSigner: &rest_model.ExternalJWTSignerCreate{
			Name: ptr(o.Name), Issuer: ptr(o.Spec.Issuer), Audience: ptr(o.Spec.Audience), JwksEndpoint: &jwks,
			ClaimsProperty: ptr(o.Spec.ClaimsProperty), UseExternalID: ptr(o.Spec.UseExternalID), Enabled: ptr(o.Spec.Enabled), Tags: managedTags(),
		}}, nil)
	if err != nil {
		return "", err
	}
	id := r.Payload.Data.ID
	// Controller 1.6.0 drops the tags of a new external JWT signer (its
	// create mapping ignores them) but keeps them on update: set them
	// with an update so the signer is known as ztedge's.
	return id, k.update(ctx, z, zitiObject[signerSpec]{ID: id}, o)
}

func (signerKind) update(ctx context.Context, z *zitiSide, have, o zitiObject[signerSpec]) error {
	jwks := strfmt.URI(o.Spec.JWKSEndpoint)
	_, err := z.api.ExternalJWTSigner.UpdateExternalJWTSigner(&external_jwt_signer.UpdateExternalJWTSignerParams{Context: ctx, ID: have.ID,
		ExternalJWTSigner: &rest_model.ExternalJWTSignerUpdate{
			Name: ptr(o.Name), Issuer: ptr(o.Spec.Issuer), Audience: ptr(o.Spec.Audience), JwksEndpoint: &jwks,
			ClaimsProperty: ptr(o.Spec.ClaimsProperty), UseExternalID: ptr(o.Spec.UseExternalID), Enabled: ptr(o.Spec.Enabled), Tags: managedTags(),
		}}, nil)
	return err
}

func (signerKind) remove(ctx context.Context, z *zitiSide, o zitiObject[signerSpec]) error {
	_, err := z.api.ExternalJWTSigner.DeleteExternalJWTSigner(&external_jwt_signer.DeleteExternalJWTSignerParams{Context: ctx, ID: o.ID}, nil)
	return err
}
