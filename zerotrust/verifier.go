package zerotrust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/jwtauth"
)

// newVerifier builds the verifier of inbound JWTs that sec asks for: the
// issuer and key set discovered from Vault (VaultAddress, else the
// credentials file's address), the audience (JWTAudience, else the
// credentials' audience, else "edgex"), and the validation method
// (JWTValidation), introspecting through the service's own Vault login.
func newVerifier(ctx context.Context, sec settings, tokens *idtoken.Source, log *slog.Logger, onVerify func(error)) (*jwtauth.Verifier, error) {
	addr, audience := sec.vaultAddress, sec.audience
	if tokens != nil {
		if addr == "" {
			addr = tokens.Address()
		}
		if audience == "" {
			audience = tokens.Audience()
		}
	}
	if audience == "" {
		audience = naming.DefaultAudience
	}
	if addr == "" {
		return nil, errors.New("zerotrust: the service requires JWTs but no Vault address is configured")
	}
	if tokens == nil || addr != tokens.Address() { // else New warned already
		vault.WarnPlainHTTP(log, addr, "Vault's signing keys", "use https and "+KeyVaultCA)
	}
	vc := vault.Config{Address: addr, CAFile: sec.vaultCA}
	if tokens != nil {
		vc.Dial = tokens.DialVault // over the overlay once joined
	}
	client, err := vault.HTTPClient(vc)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %s: %w", KeyVaultCA, err)
	}
	issuer, keys, err := jwtauth.Discover(ctx, addr, client)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %w", err)
	}
	o := jwtauth.Options{Issuer: issuer, Audiences: []string{audience}, KeysURL: keys, Logger: log, HTTPClient: client, OnVerify: onVerify}
	switch sec.validation {
	case ValidateIntrospect:
		o.Mode = jwtauth.Introspect
	case ValidateBoth:
		o.Mode = jwtauth.Both
	}
	if o.Mode != jwtauth.Local {
		if tokens == nil {
			return nil, fmt.Errorf("zerotrust: %s=%s needs the service's Vault credentials (%s) to ask Vault", KeyJWTValidation, sec.validation, KeyCredentials)
		}
		in, err := tokens.Introspector(ctx)
		if err != nil {
			return nil, fmt.Errorf("zerotrust: %s=%s: %w", KeyJWTValidation, sec.validation, err)
		}
		o.Introspector = in
	}
	return jwtauth.NewVerifier(ctx, o)
}
