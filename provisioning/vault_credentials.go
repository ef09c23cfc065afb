package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
)

// kindVaultCredentials is the plan's name of a service's credentials file.
const kindVaultCredentials = "vault credentials"

// credentialsKind is a service's credentials file: its AppRole role_id and
// the one secret_id that may log in, with where to use them.
type credentialsKind struct{}

// converge decides whether the credentials file must be (re)written. A new
// secret_id is generated only when the file is missing or unusable, names
// another role_id, or holds a secret_id Vault no longer accepts; when only
// descriptive fields differ (address, mount, audience) the file is
// rewritten with the same secret_id.
func (credentialsKind) converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	path := credentials.Path(v.t.Output, s.name)
	want := v.credentialsFor(s.name)
	cur, err := credentials.Read(path)
	regenerate := func(op Op, why string) []Change {
		return []Change{{Op: op, Kind: kindVaultCredentials, Name: s.name, Detail: why + "; new secret_id",
			apply: v.applyNewCredentials(s.name)}}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return regenerate(OpCreate, "file missing"), nil
	case err != nil:
		return regenerate(OpUpdate, "file unusable ("+err.Error()+")"), nil
	case s.roleID == "":
		return regenerate(OpUpdate, "approle role is new"), nil
	case cur.RoleID != s.roleID:
		return regenerate(OpUpdate, "file is for another role_id"), nil
	}
	valid, err := v.secretIDValid(ctx, s.name, cur.SecretID)
	if err != nil {
		return nil, err
	}
	if !valid {
		return regenerate(OpUpdate, "secret_id no longer valid"), nil
	}
	var d fieldDiffs
	d.str("service", cur.Service, want.Service)
	d.str("vaultAddress", cur.VaultAddress, want.VaultAddress)
	d.str("authMount", cur.AuthMount, want.AuthMount)
	d.str("oidcRole", cur.OIDCRole, want.OIDCRole)
	d.str("audience", cur.Audience, want.Audience)
	d.str("vaultZitiService", cur.VaultZitiService, want.VaultZitiService)
	if len(d) == 0 {
		return nil, nil
	}
	keep := want
	keep.RoleID, keep.SecretID = cur.RoleID, cur.SecretID
	return []Change{{Op: OpUpdate, Kind: kindVaultCredentials, Name: s.name, Detail: d.detail() + " (same secret_id)",
		apply: func(ctx context.Context) error {
			if err := serviceDir(v.t.Output, s.name); err != nil {
				return err
			}
			return credentials.Write(path, &keep)
		}}}, nil
}

// remove deletes the files ztedge wrote in the service's credentials folder
// (see [serviceFiles]), then the folder when nothing else is left in it. It
// follows no symbolic link: a services folder or service folder that is
// one is refused.
func (credentialsKind) remove(_ context.Context, v *vaultSide, s *serviceState) ([]Change, error) {
	dir, err := v.serviceFolder(s.name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("credentials folder of %q: %w", s.name, err)
	}
	return []Change{{Op: OpDelete, Kind: kindVaultCredentials, Name: s.name, Detail: dir,
		apply: func(context.Context) error {
			if err := removeServiceFolder(v.t.Output, s.name); err != nil {
				return fmt.Errorf("removing credentials folder %s: %w", dir, err)
			}
			return nil
		}}}, nil
}

// credentialsFor returns the credentials of s without role_id and secret_id.
func (v *vaultSide) credentialsFor(s string) credentials.Service {
	c := credentials.Service{
		Service:      s,
		VaultAddress: strings.TrimRight(strings.TrimSpace(v.t.Vault.Address), "/"),
		AuthMount:    v.mountPath(),
		OIDCRole:     s,
		Audience:     v.t.JWT.Audience,
	}
	if v.t.Vault.Overlay != nil {
		c.VaultZitiService = VaultZitiService
	}
	return c
}

// applyNewCredentials generates a secret_id for AppRole role s, writes the
// credentials file and then destroys every other secret_id of the role, so
// that only the file's secret_id can log in.
func (v *vaultSide) applyNewCredentials(s string) func(context.Context) error {
	path := credentials.Path(v.t.Output, s)
	return func(ctx context.Context) error {
		roleID, err := v.roleID(ctx, s)
		if err != nil {
			return err
		}
		data, err := v.write(ctx, v.appRolePath(s)+"/secret-id", map[string]any{})
		if err != nil {
			return err
		}
		secretID, accessor := vault.String(data["secret_id"]), vault.String(data["secret_id_accessor"])
		if secretID == "" || accessor == "" {
			return fmt.Errorf("vault returned no secret_id for approle role %q", s)
		}
		c := v.credentialsFor(s)
		c.RoleID, c.SecretID = roleID, secretID
		err = serviceDir(v.t.Output, s)
		if err == nil {
			err = credentials.Write(path, &c)
		}
		if err != nil {
			_ = v.destroySecretIDAccessor(ctx, s, accessor)
			return err
		}
		accessors, _, err := v.list(ctx, v.appRolePath(s)+"/secret-id")
		if err != nil {
			return err
		}
		for _, a := range accessors {
			if a == accessor {
				continue
			}
			if err := v.destroySecretIDAccessor(ctx, s, a); err != nil {
				return err
			}
		}
		return nil
	}
}

// secretIDValid reports whether secretID is a live secret_id of AppRole role s.
func (v *vaultSide) secretIDValid(ctx context.Context, s, secretID string) (bool, error) {
	data, err := v.write(ctx, v.appRolePath(s)+"/secret-id/lookup", map[string]any{"secret_id": secretID})
	if err != nil {
		if st := vault.StatusOf(err); st == 400 || st == 404 {
			return false, nil // "invalid secret id"
		}
		return false, fmt.Errorf("vault approle role %q: looking up the secret_id from the credentials file: %w", s, err)
	}
	if data == nil {
		return false, nil
	}
	if exp := vault.String(data["expiration_time"]); exp != "" {
		if t, err := time.Parse(time.RFC3339Nano, exp); err == nil && !t.IsZero() && time.Now().After(t) {
			return false, nil
		}
	}
	return true, nil
}

// destroySecretIDAccessor revokes the secret_id with the given accessor.
func (v *vaultSide) destroySecretIDAccessor(ctx context.Context, s, accessor string) error {
	_, err := v.write(ctx, v.appRolePath(s)+"/secret-id-accessor/destroy", map[string]any{"secret_id_accessor": accessor})
	return err
}

// serviceFolder returns the credentials folder of s, refusing names that
// would escape <Output>/services.
func (v *vaultSide) serviceFolder(s string) (string, error) {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
		return "", fmt.Errorf("vault entity name %q cannot name a credentials folder", s)
	}
	return filepath.Dir(credentials.Path(v.t.Output, s)), nil
}
