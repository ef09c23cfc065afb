package provisioning

import (
	"context"

	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/jwtauth"
)

// discoverIssuer reads the issuer and key set URL from Vault's OIDC
// discovery document (never hard-coded). A Vault without api_addr, as
// EdgeX runs it, names itself by path only: its tokens carry iss
// "/v1/identity/oidc", which is kept as is so the controller's external JWT
// signer matches them, and the key set URL is resolved against
// vault.address (see [jwtauth.Discover]).
func discoverIssuer(ctx context.Context, t *Topology) (issuer, jwksURL string, err error) {
	hc, err := vault.HTTPClient(vault.Config{Address: t.Vault.Address, CAFile: t.Vault.CACert})
	if err != nil {
		return "", "", err
	}
	return jwtauth.Discover(ctx, t.Vault.Address, hc)
}
