package provisioning

// Human users in Vault, for JWTs that people present to the gateway. For a
// user U, ztedge keeps:
//
//   - the userpass auth method at <Mount> (default ztedge-userpass),
//     described "managed by ztedge" (created when missing, never removed);
//   - the ACL policy ztedge-user-U: read identity/oidc/token/U;
//   - the entity U with metadata ztedge-user=true (never ztedge-managed,
//     which marks services: provisioning leaves users alone);
//   - the entity alias U on <Mount>, tying logins as U to entity U;
//   - the OIDC role identity/oidc/role/U: key <Key>, client_id <Audience>,
//     template {"name":"U"}, ttl <TTL>;
//   - the userpass user U with a random password and policy ztedge-user-U.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/secretfile"
	"github.com/ztedge/ztedge/internal/vault"
)

// Defaults of [UserOptions].
const (
	// DefaultUserMount is the userpass mount ztedge enables for users.
	DefaultUserMount = "ztedge-userpass"
	// DefaultUserKey is the OIDC key users' tokens are signed with: the
	// topology's default key.
	DefaultUserKey = DefaultVaultKey
	// DefaultUserAudience is the aud of users' tokens: the topology's
	// default audience.
	DefaultUserAudience = DefaultAudience
	// DefaultUserTTL is the lifetime of users' JWTs.
	DefaultUserTTL = time.Hour
	// DefaultUserTokenTTL is the lifetime of the Vault token a login returns.
	DefaultUserTokenTTL = time.Hour
)

const (
	// UserMetadataKey marks an entity as a ztedge user (value "true").
	UserMetadataKey = "ztedge-user"
	// UserPolicyPrefix starts the name of each user's ACL policy.
	UserPolicyPrefix = "ztedge-user-"
)

// UserOptions say where and how users are kept in Vault. Zero values mean
// the defaults.
type UserOptions struct {
	// Mount is the path of the userpass auth method. Default ztedge-userpass.
	Mount string
	// Key is the OIDC key that signs users' JWTs; it must exist (ztedge
	// provision apply creates it). Default "ztedge".
	Key string
	// Audience is the JWTs' aud (the OIDC role's client_id). Default "edgex".
	Audience string
	// TTL is the JWTs' lifetime. Default 1h; at most the key's
	// verification_ttl, which Vault enforces.
	TTL time.Duration
	// TokenTTL is the lifetime of the Vault token a login returns. Default 1h.
	TokenTTL time.Duration
}

func (o *UserOptions) setDefaults() {
	o.Mount = strings.Trim(o.Mount, "/")
	if o.Mount == "" {
		o.Mount = DefaultUserMount
	}
	if o.Key == "" {
		o.Key = DefaultUserKey
	}
	if o.Audience == "" {
		o.Audience = DefaultUserAudience
	}
	if o.TTL == 0 {
		o.TTL = DefaultUserTTL
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultUserTokenTTL
	}
}

// Users adds and removes human users in Vault.
type Users struct {
	c    *vaultapi.Client
	opts UserOptions
}

// NewUsers returns a [Users] that manages users with client c, which needs
// a token allowed to manage auth methods, policies and identity (see
// [NewVaultClient]).
func NewUsers(c *vaultapi.Client, opts UserOptions) (*Users, error) {
	if c == nil {
		return nil, errors.New(errPrefix + "users: no Vault client")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	return &Users{c: c, opts: opts}, nil
}

// Validate checks the options as [NewUsers] would use them, without
// contacting Vault, so that a bad one is reported before any login.
func (o UserOptions) Validate() error {
	o.setDefaults()
	var errs []error
	if strings.ContainsAny(o.Mount, " /") {
		errs = append(errs, fmt.Errorf("mount %q must be a single path segment", o.Mount))
	}
	if o.TTL < time.Second {
		errs = append(errs, fmt.Errorf("JWT ttl %s must be at least 1s", o.TTL))
	}
	if o.TokenTTL < time.Second {
		errs = append(errs, fmt.Errorf("login token ttl %s must be at least 1s", o.TokenTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf(errPrefix+"users: %w", err)
	}
	return nil
}

// NewVaultClient returns a Vault client for addr carrying an
// administrator's token, trusting caFile (PEM) when it is not empty, after
// checking that Vault answers, is unsealed and accepts the token. source
// names where the token came from, for errors. It never uses an
// environment proxy.
func NewVaultClient(ctx context.Context, addr, token, source, caFile string) (_ *vaultapi.Client, err error) {
	defer prefixErr(&err)
	return vault.AdminClient(ctx, vault.Config{Address: addr, CAFile: caFile}, token, source)
}

// User is a user as added by [Users.Add].
type User struct {
	// Name is the user name: the JWT's name claim, and the caller name
	// services see.
	Name string
	// Password is the userpass password, new at every Add. It is a secret:
	// write it to a private file, never log it.
	Password string `json:"-"`
	// EntityID is the Vault entity's ID: the JWT's sub claim.
	EntityID string
	// Mount is the userpass mount path.
	Mount string
	// LoginPath is the Vault API path to log in at (without /v1/).
	LoginPath string
	// TokenPath is the Vault API path that returns the user's JWT.
	TokenPath string
}

// ValidateUserName checks a user name with the rule for service names.
func ValidateUserName(name string) error {
	if !naming.ValidName(name) {
		return fmt.Errorf(errPrefix+"user name %q must be %s", name, naming.NameRule)
	}
	return nil
}

// UserPolicyName is the name of user name's ACL policy.
func UserPolicyName(name string) string { return UserPolicyPrefix + name }

func userPolicyText(name string) string {
	return fmt.Sprintf(`# Managed by ztedge: identity token (JWT) of user %s.
path "identity/oidc/token/%s" {
  capabilities = ["read"]
}
`, name, name)
}

// isUser reports whether ztedge created entity e as a user.
func isUser(e *vault.Entity) bool { return e.Metadata[UserMetadataKey] == "true" }

// clash refuses entity e (nil: none) of name when it is not a ztedge user.
func clash(name string, e *vault.Entity) error {
	switch {
	case e == nil || isUser(e):
		return nil
	case managedEntity(e):
		return fmt.Errorf("%q is a ztedge service, not a user: pick another user name", name)
	default:
		return fmt.Errorf("vault entity %q exists and was not created by ztedge as a user: refusing to touch it; pick another user name", name)
	}
}

// randomPassword returns 32 random URL-safe characters (192 bits).
func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// PasswordFile is a new random password for a user, written to a
// temporary file (mode 0600) beside its destination but not yet in place:
// [StagePasswordFile] makes one before Vault is touched, so that a
// destination that cannot be written fails without changing the user's
// password, and [Users.AddWithPasswordFile] puts it in place once Vault
// has it.
type PasswordFile struct {
	// Path is the destination of the password file.
	Path     string
	password string
	staged   *secretfile.Staged
}

// StagePasswordFile generates a password and writes it to a temporary file
// in the folder of path (created with mode 0700 when missing).
func StagePasswordFile(path string) (_ *PasswordFile, err error) {
	defer prefixErr(&err)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the folder of %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("password file %s is a folder", path)
	}
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	staged, err := secretfile.Stage(path, []byte(password+"\n"))
	if err != nil {
		return nil, err
	}
	return &PasswordFile{Path: path, password: password, staged: staged}, nil
}

// Commit puts the password file in place (mode 0600).
func (p *PasswordFile) Commit() (err error) {
	defer prefixErr(&err)
	return p.staged.Commit()
}

// Discard removes the temporary file, leaving any older password file as
// it was. It does nothing after Commit, so it can be deferred.
func (p *PasswordFile) Discard() { p.staged.Discard() }

// checkKey fails when the OIDC key is missing or does not allow the audience.
func (u *Users) checkKey(ctx context.Context) error {
	key, err := vault.Read(ctx, u.c, "identity/oidc/key/"+u.opts.Key)
	if err != nil {
		return err
	}
	if key == nil {
		return fmt.Errorf("vault OIDC key %q does not exist: provision the topology first (ztedge provision apply) or choose the key with -key", u.opts.Key)
	}
	allowed := vault.Strings(key["allowed_client_ids"])
	if !slices.Contains(allowed, "*") && !slices.Contains(allowed, u.opts.Audience) {
		return fmt.Errorf("vault OIDC key %q does not allow client_id (audience) %q (allowed: %s)", u.opts.Key, u.opts.Audience, strings.Join(allowed, ", "))
	}
	return nil
}
