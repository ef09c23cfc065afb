package idtoken

import (
	"context"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/jwtauth"
)

// Introspector returns a jwtauth.VaultIntrospector that asks Vault
// (identity/oidc/introspect) with a login of its own through the
// service's AppRole credentials, which provisioning allows to introspect,
// and logs in again when Vault refuses that login. It logs in once now,
// so bad credentials fail here.
func (s *Source) Introspector(ctx context.Context) (*jwtauth.VaultIntrospector, error) {
	c, err := vault.Clone(s.client)
	if err != nil {
		return nil, err
	}
	login := func(ctx context.Context, c *vaultapi.Client) error {
		l, err := vault.AppRoleLogin(ctx, c, s.creds.AuthMount, s.creds.RoleID, s.creds.SecretID)
		if err != nil {
			return err
		}
		c.SetToken(l.Token)
		return nil
	}
	if err := login(ctx, c); err != nil {
		return nil, err
	}
	in := jwtauth.NewVaultIntrospector(c)
	in.Relogin = login
	in.Logger = s.log
	return in, nil
}
