package provisioning

import (
	"context"
	"log/slog"

	vaultapi "github.com/hashicorp/vault/api"
	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/ztedge/ztedge/jwtauth"
)

// ZitiManagement logs in to the controller's edge management API the way
// provisioning does (the topology's controller, CA bundle and
// administrator), for tools that read what is live. A nil logger means
// slog.Default().
func ZitiManagement(ctx context.Context, t *Topology, logger *slog.Logger) (_ *mgmt.ZitiEdgeManagement, err error) {
	defer prefixErr(&err)
	if logger == nil {
		logger = slog.Default()
	}
	z, err := newZitiSide(ctx, t, logger)
	if err != nil {
		return nil, err
	}
	return z.api, nil
}

// VaultAdmin returns a Vault client holding the topology's management
// token, checked the way provisioning checks it (Vault reachable, unsealed,
// token accepted).
func VaultAdmin(ctx context.Context, t *Topology) (_ *vaultapi.Client, err error) {
	defer prefixErr(&err)
	return newVaultClient(ctx, t)
}

// DiscoverVault reads the issuer and key set URL of Vault's identity
// tokens from its OIDC discovery document, as provisioning does when it
// configures the controller's external JWT signer. It needs no token.
func DiscoverVault(ctx context.Context, c *vaultapi.Client) (issuer, jwksURL string, err error) {
	defer prefixErr(&err)
	return jwtauth.Discover(ctx, c.Address(), c.CloneConfig().HttpClient)
}
