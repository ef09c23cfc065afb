package provisioning

import (
	"context"
	"fmt"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultMount is the plan's name of the AppRole auth method.
const kindVaultMount = "vault auth mount"

// mountPath is the AppRole mount path without slashes.
func (v *vaultSide) mountPath() string { return strings.Trim(v.t.Vault.AuthMount, "/") }

// authMount returns the AppRole mount (nil when missing) and whether
// ztedge owns it (type approle, description "managed by ztedge").
func (v *vaultSide) authMount(ctx context.Context) (m *vaultapi.AuthMount, owned bool, err error) {
	return ownedAuthMount(ctx, v.c, v.mountPath(), "approle")
}

// ownedAuthMount returns the auth method at path (nil when missing) and
// whether ztedge owns it: of the given type, described "managed by ztedge".
func ownedAuthMount(ctx context.Context, c *vaultapi.Client, path, typ string) (m *vaultapi.AuthMount, owned bool, err error) {
	mounts, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("listing Vault auth methods: %w", vault.Sanitize(err))
	}
	m = mounts[path+"/"]
	if m == nil {
		return nil, false, nil
	}
	return m, m.Type == typ && strings.TrimSpace(m.Description) == vaultMountDescription, nil
}

// planMount returns the change that enables the AppRole mount, nil when it
// exists (load read it).
func (v *vaultSide) planMount() *Change {
	if v.mount != nil {
		return nil
	}
	mount := v.mountPath()
	return &Change{Op: OpCreate, Kind: kindVaultMount, Name: mount, Detail: "approle", stage: stageVaultShared,
		apply: func(ctx context.Context) error {
			err := v.c.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &vaultapi.EnableAuthOptions{
				Type:        "approle",
				Description: vaultMountDescription,
			})
			if err != nil {
				return fmt.Errorf("enabling approle at %s: %w", mount, err)
			}
			return nil
		}}
}

// removeMount returns the change that disables the AppRole mount when it is
// ztedge's, nil otherwise. Ownership is checked again when it runs.
func (v *vaultSide) removeMount() *Change {
	if v.mount == nil || !v.mountOwned {
		return nil
	}
	mount := v.mountPath()
	return &Change{Op: OpDelete, Kind: kindVaultMount, Name: mount, stage: stageVaultShared,
		apply: func(ctx context.Context) error {
			m, owned, err := v.authMount(ctx)
			if err != nil || m == nil {
				return err
			}
			if !owned {
				return fmt.Errorf("auth mount %s is no longer described %q: not disabling it", mount, vaultMountDescription)
			}
			if err := v.c.Sys().DisableAuthWithContext(ctx, mount); err != nil {
				return fmt.Errorf("disabling auth mount %s: %w", mount, err)
			}
			return nil
		}}
}
