// Package edgextoken writes, checks and keeps valid the Vault token file an
// EdgeX 4 service reads at start (its SecretStore.TokenFile), in the format
// of EdgeX's security-file-token-provider:
//
//	{"auth":{"client_token":"…","entity_id":"…","accessor":"…","policies":[…],…}}
//
// The token comes from an AppRole login with the credentials ztedge
// provisioning wrote for the service, so it carries the service's policy
// and Vault's default policy (which EdgeX needs to look itself up and renew
// itself), belongs to the service's entity (so identity/oidc/token/<name>
// signs a JWT with the service's name), and is periodic and renewable.
package edgextoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ztedge/ztedge/internal/secretfile"
)

// FileName is the token file's name in a service's folder, as EdgeX's
// security-file-token-provider names it.
const FileName = "secrets-token.json"

// Path returns where provisioning writes the token file of a service:
// <output>/services/<service>/secrets-token.json, beside its credentials.
func Path(output, service string) string {
	return filepath.Join(output, "services", service, FileName)
}

// File is the token file: the "auth" object of Vault's login answer.
type File struct {
	Auth Auth `json:"auth"`
}

// Auth is the part of Vault's login answer EdgeX and operators use. EdgeX
// reads only ClientToken and EntityID.
type Auth struct {
	// ClientToken is the Vault token. Never log it.
	ClientToken string `json:"client_token"`
	// Accessor names the token without being it (for lookup and revocation
	// by an operator).
	Accessor string `json:"accessor"`
	// Policies are every policy of the token, default included.
	Policies []string `json:"policies"`
	// TokenPolicies are the policies attached to the token itself.
	TokenPolicies []string `json:"token_policies"`
	// IdentityPolicies are the policies it has through its entity.
	IdentityPolicies []string `json:"identity_policies,omitempty"`
	// Metadata is the login's metadata (AppRole: role_name).
	Metadata map[string]string `json:"metadata,omitempty"`
	// EntityID is the service's Vault entity. EdgeX sends it to
	// security-secretstore-setup to ask for a new token.
	EntityID string `json:"entity_id"`
	// LeaseDuration is the token's TTL in seconds when it was issued.
	LeaseDuration int `json:"lease_duration"`
	// Renewable says whether the token can be renewed.
	Renewable bool `json:"renewable"`
	// Orphan says whether the token has no parent.
	Orphan bool `json:"orphan"`
}

// maxSize bounds how much of a token file is read.
const maxSize = 64 << 10

// what names the file in errors.
const what = "edgex token file"

// Validate checks what EdgeX relies on: a token, the entity, renewability
// and Vault's default policy.
func (f *File) Validate() error {
	a := f.Auth
	switch {
	case strings.TrimSpace(a.ClientToken) == "":
		return errors.New(`"auth.client_token" is missing`)
	case strings.TrimSpace(a.EntityID) == "":
		return errors.New(`"auth.entity_id" is missing: the token belongs to no entity, so Vault would sign no JWT with the service's name`)
	case !a.Renewable:
		return errors.New("the token is not renewable: EdgeX renews its token and stops when it cannot")
	case !slices.Contains(a.Policies, "default"):
		return errors.New(`the token lacks Vault's "default" policy, which EdgeX needs to look itself up and renew itself (is token_no_default_policy set on the AppRole role?)`)
	}
	return nil
}

// Write writes f to path with mode 0600. A missing folder is created with
// mode 0700; an existing folder is set to 0700. The folder must be the
// current user's or root's, not a symbolic link, and not writable by group
// or others (such as /tmp), nor may any folder above it be, unless it is
// sticky (see [secretfile.CheckDirTree]): whoever could change it could
// swap the token file. The token file must sit in a folder of the
// service's own.
func Write(path string, f *File) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("refusing to write %s %s: %w", what, path, err)
	}
	dir := filepath.Dir(path)
	if err := secretfile.CheckDirTree(dir); err != nil {
		return fmt.Errorf("%s %s: %w: choose a folder of the service's own, e.g. /tmp/edgex/secrets/<service>/", what, path, err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", what, path, err)
	}
	if err := secretfile.Write(path, append(data, '\n')); err != nil {
		return err
	}
	return secretfile.KeepPrivateDirs(dir)
}

// Read reads and checks a token file. It refuses a file group or others may
// read or write, and one in a folder [Write] would refuse. Errors never
// quote the file's content.
func Read(path string) (*File, error) {
	if err := secretfile.CheckDirTree(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	data, err := secretfile.Read(path, what, maxSize)
	if err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s %s is not a JSON token file", what, path)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return &f, nil
}
