package gateway

// Human users in Vault. For a user U, ztedge keeps:
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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/secretfile"
	"github.com/ztedge/ztedge/internal/vault"
)

// Defaults of [UserOptions].
const (
	// DefaultUserMount is the userpass mount ztedge enables for users.
	DefaultUserMount = "ztedge-userpass"
	// DefaultUserKey is the OIDC key users' tokens are signed with: the
	// topology's default key.
	DefaultUserKey = "ztedge"
	// DefaultUserAudience is the aud of users' tokens: the topology's
	// default audience.
	DefaultUserAudience = "edgex"
	// DefaultUserTTL is the lifetime of users' JWTs.
	DefaultUserTTL = time.Hour
	// DefaultUserTokenTTL is the lifetime of the Vault token a user's
	// login returns.
	DefaultUserTokenTTL = time.Hour
)

// Vault markers of the objects ztedge owns.
const (
	// UserMetadataKey marks an entity as a ztedge user (value "true").
	UserMetadataKey = "ztedge-user"
	// serviceMetadataKey marks an entity as a ztedge service (provisioning).
	serviceMetadataKey = "ztedge-managed"
	// mountDescription is the description of auth mounts ztedge owns.
	mountDescription = "managed by ztedge"
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
	if o.Mount == "" {
		o.Mount = DefaultUserMount
	}
	o.Mount = strings.Trim(o.Mount, "/")
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
// a token allowed to manage auth methods, policies and identity.
func NewUsers(c *vaultapi.Client, opts UserOptions) (*Users, error) {
	if c == nil {
		return nil, errors.New("gateway users: no Vault client")
	}
	opts.setDefaults()
	var errs []error
	if strings.ContainsAny(opts.Mount, " /") || opts.Mount == "" {
		errs = append(errs, fmt.Errorf("mount %q must be a single path segment", opts.Mount))
	}
	if opts.TTL < time.Second {
		errs = append(errs, fmt.Errorf("JWT ttl %s must be at least 1s", opts.TTL))
	}
	if opts.TokenTTL < time.Second {
		errs = append(errs, fmt.Errorf("login token ttl %s must be at least 1s", opts.TokenTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("gateway users: %w", err)
	}
	return &Users{c: c, opts: opts}, nil
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

// ValidateUserName checks a user name with the rule for service names:
// 2-63 lower-case letters, digits and hyphens, starting with a letter and
// not ending with a hyphen.
func ValidateUserName(name string) error {
	if !serviceNameRE.MatchString(name) {
		return fmt.Errorf("user name %q must be 2-63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen", name)
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

func userTemplate(name string) string { return fmt.Sprintf(`{"name":%q}`, name) }

// entity is the part of a Vault entity ztedge looks at.
type entity struct {
	ID       string
	Metadata map[string]string
	Aliases  []alias
}

type alias struct{ ID, Name, MountAccessor string }

func (e *entity) isService() bool { return e.Metadata[serviceMetadataKey] == "true" }
func (e *entity) isUser() bool    { return e.Metadata[UserMetadataKey] == "true" }

// Add creates user name (or brings an existing ztedge user back in line
// and gives it a new password) and returns it with its password. It
// refuses names of ztedge services and of Vault entities or OIDC roles
// that ztedge did not create as users, and needs the OIDC key to exist.
func (u *Users) Add(ctx context.Context, name string) (*User, error) {
	if err := ValidateUserName(name); err != nil {
		return nil, err
	}
	e, err := u.entity(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := clash(name, e); err != nil {
		return nil, err
	}
	if e == nil {
		role, err := u.read(ctx, "identity/oidc/role/"+name)
		if err != nil {
			return nil, err
		}
		if role != nil {
			return nil, fmt.Errorf("vault OIDC role %q exists but belongs to no ztedge user (ztedge services and other clients use OIDC roles too): pick another user name", name)
		}
	}
	if err := u.checkKey(ctx); err != nil {
		return nil, err
	}
	accessor, err := u.ensureMount(ctx)
	if err != nil {
		return nil, err
	}

	policy := UserPolicyName(name)
	if err := u.c.Sys().PutPolicyWithContext(ctx, policy, userPolicyText(name)); err != nil {
		return nil, fmt.Errorf("writing vault policy %s: %w", policy, err)
	}
	if e == nil {
		if _, err := u.write(ctx, "identity/entity", map[string]any{
			"name":     name,
			"metadata": map[string]string{UserMetadataKey: "true"},
		}); err != nil {
			return nil, err
		}
		if e, err = u.entity(ctx, name); err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("vault entity %q was created but cannot be read back", name)
		}
	}
	if err := u.ensureAlias(ctx, name, e, accessor); err != nil {
		return nil, err
	}
	if _, err := u.write(ctx, "identity/oidc/role/"+name, map[string]any{
		"key":       u.opts.Key,
		"client_id": u.opts.Audience,
		"template":  userTemplate(name),
		"ttl":       int64(u.opts.TTL / time.Second),
	}); err != nil {
		return nil, err
	}
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	// The login comes last: it works only once everything else is in place.
	if _, err := u.write(ctx, u.userPath(name), map[string]any{
		"password":       password,
		"token_policies": []string{policy},
		"token_ttl":      int64(u.opts.TokenTTL / time.Second),
		"token_max_ttl":  int64(u.opts.TokenTTL / time.Second),
	}); err != nil {
		return nil, err
	}
	return &User{
		Name:      name,
		Password:  password,
		EntityID:  e.ID,
		Mount:     u.opts.Mount,
		LoginPath: "auth/" + u.opts.Mount + "/login/" + name,
		TokenPath: "identity/oidc/token/" + name,
	}, nil
}

// Remove deletes exactly what [Users.Add] created for name: the userpass
// user, the OIDC role, the entity (with its aliases) and the policy. The
// userpass mount stays. It refuses ztedge services and entities ztedge did
// not create as users, and reports a user that does not exist.
func (u *Users) Remove(ctx context.Context, name string) error {
	if err := ValidateUserName(name); err != nil {
		return err
	}
	e, err := u.entity(ctx, name)
	if err != nil {
		return err
	}
	if err := clash(name, e); err != nil {
		return err
	}
	found := e != nil
	mountOK, err := u.ownMount(ctx)
	if err != nil {
		return err
	}
	if mountOK {
		user, err := u.read(ctx, u.userPath(name))
		if err != nil {
			return err
		}
		if user != nil {
			found = true
			if err := u.del(ctx, u.userPath(name)); err != nil {
				return err
			}
		}
	}
	// Without the entity, the OIDC role is only ours if it is exactly what
	// Add writes (a half-finished Add); otherwise it is left alone.
	role, err := u.read(ctx, "identity/oidc/role/"+name)
	if err != nil {
		return err
	}
	if role != nil && (e != nil || u.isUserRole(name, role)) {
		found = true
		if err := u.del(ctx, "identity/oidc/role/"+name); err != nil {
			return err
		}
	}
	if e != nil {
		if err := u.del(ctx, "identity/entity/id/"+e.ID); err != nil {
			return err
		}
	}
	policy := UserPolicyName(name)
	text, err := u.c.Sys().GetPolicyWithContext(ctx, policy)
	if err != nil {
		return fmt.Errorf("reading vault policy %s: %w", policy, err)
	}
	if text != "" {
		found = true
		if err := u.c.Sys().DeletePolicyWithContext(ctx, policy); err != nil {
			return fmt.Errorf("deleting vault policy %s: %w", policy, err)
		}
	}
	if !found {
		return fmt.Errorf("there is no ztedge user %q in Vault", name)
	}
	return nil
}

// clash refuses entity e (nil: none) of name when it is not a ztedge user.
func clash(name string, e *entity) error {
	switch {
	case e == nil || e.isUser():
		return nil
	case e.isService():
		return fmt.Errorf("%q is a ztedge service, not a user: pick another user name", name)
	default:
		return fmt.Errorf("vault entity %q exists and was not created by ztedge as a user: refusing to touch it; pick another user name", name)
	}
}

// isUserRole reports whether an OIDC role is exactly what Add writes.
func (u *Users) isUserRole(name string, role map[string]any) bool {
	return str(role["key"]) == u.opts.Key && str(role["client_id"]) == u.opts.Audience &&
		sameJSON(str(role["template"]), userTemplate(name))
}

// checkKey fails when the OIDC key is missing or does not allow the audience.
func (u *Users) checkKey(ctx context.Context) error {
	key, err := u.read(ctx, "identity/oidc/key/"+u.opts.Key)
	if err != nil {
		return err
	}
	if key == nil {
		return fmt.Errorf("vault OIDC key %q does not exist: provision the topology first (ztedge provision apply) or choose the key with -key", u.opts.Key)
	}
	allowed := strs(key["allowed_client_ids"])
	if !slices.Contains(allowed, "*") && !slices.Contains(allowed, u.opts.Audience) {
		return fmt.Errorf("vault OIDC key %q does not allow client_id (audience) %q (allowed: %s)", u.opts.Key, u.opts.Audience, strings.Join(allowed, ", "))
	}
	return nil
}

// mountInfo returns the auth mount at opts.Mount, or nil.
func (u *Users) mountInfo(ctx context.Context) (*vaultapi.AuthMount, error) {
	mounts, err := u.c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing vault auth methods: %w", err)
	}
	return mounts[u.opts.Mount+"/"], nil
}

// ownMount reports whether the mount exists and is ztedge's userpass mount.
func (u *Users) ownMount(ctx context.Context) (bool, error) {
	m, err := u.mountInfo(ctx)
	if err != nil || m == nil {
		return false, err
	}
	return m.Type == "userpass" && m.Description == mountDescription, nil
}

// ensureMount enables the userpass mount when missing and returns its
// accessor; a mount of another type or description is refused.
func (u *Users) ensureMount(ctx context.Context) (string, error) {
	m, err := u.mountInfo(ctx)
	if err != nil {
		return "", err
	}
	if m == nil {
		err := u.c.Sys().EnableAuthWithOptionsWithContext(ctx, u.opts.Mount, &vaultapi.EnableAuthOptions{
			Type: "userpass", Description: mountDescription,
		})
		if err != nil {
			return "", fmt.Errorf("enabling the userpass auth method at %s: %w", u.opts.Mount, err)
		}
		if m, err = u.mountInfo(ctx); err != nil {
			return "", err
		}
		if m == nil {
			return "", fmt.Errorf("the userpass auth method at %s was enabled but is not listed", u.opts.Mount)
		}
	}
	if m.Type != "userpass" || m.Description != mountDescription {
		return "", fmt.Errorf("vault auth mount %q exists but is not ztedge's userpass mount (type %q, description %q; want userpass described %q): choose another mount", u.opts.Mount, m.Type, m.Description, mountDescription)
	}
	return m.Accessor, nil
}

// ensureAlias makes the alias name on the mount belong to entity e.
func (u *Users) ensureAlias(ctx context.Context, name string, e *entity, accessor string) error {
	for _, a := range e.Aliases {
		if a.MountAccessor == accessor && a.Name == name {
			return nil
		}
	}
	body := map[string]any{"name": name, "mount_accessor": accessor, "canonical_id": e.ID}
	// A login before the alias existed makes Vault create an entity of its
	// own with this alias: move the alias to e.
	found, err := u.write(ctx, "identity/lookup/entity", map[string]any{
		"alias_name": name, "alias_mount_accessor": accessor,
	})
	if err != nil {
		return err
	}
	if found != nil {
		other := parseEntity(found)
		if other.isService() || (other.ID != e.ID && len(other.Metadata) > 0 && !other.isUser()) {
			return fmt.Errorf("the login alias %q on %s belongs to vault entity %q, which is not a ztedge user", name, u.opts.Mount, str(found["name"]))
		}
		for _, a := range other.Aliases {
			if a.MountAccessor == accessor && a.Name == name {
				_, err := u.write(ctx, "identity/entity-alias/id/"+a.ID, body)
				return err
			}
		}
	}
	_, err = u.write(ctx, "identity/entity-alias", body)
	return err
}

func (u *Users) userPath(name string) string { return "auth/" + u.opts.Mount + "/users/" + name }

// entity reads entity name, nil when it does not exist.
func (u *Users) entity(ctx context.Context, name string) (*entity, error) {
	data, err := u.read(ctx, "identity/entity/name/"+name)
	if err != nil || data == nil {
		return nil, err
	}
	return parseEntity(data), nil
}

func parseEntity(data map[string]any) *entity {
	e := &entity{ID: str(data["id"]), Metadata: map[string]string{}}
	if m, ok := data["metadata"].(map[string]any); ok {
		for k, v := range m {
			e.Metadata[k] = fmt.Sprint(v)
		}
	}
	if l, ok := data["aliases"].([]any); ok {
		for _, raw := range l {
			if m, ok := raw.(map[string]any); ok {
				e.Aliases = append(e.Aliases, alias{ID: str(m["id"]), Name: str(m["name"]), MountAccessor: str(m["mount_accessor"])})
			}
		}
	}
	return e
}

func isNotFound(err error) bool { return vault.IsNotFound(err) }

func (u *Users) read(ctx context.Context, path string) (map[string]any, error) {
	return vault.Read(ctx, u.c, path)
}

func (u *Users) write(ctx context.Context, path string, data map[string]any) (map[string]any, error) {
	return vault.Write(ctx, u.c, path, data)
}

func (u *Users) del(ctx context.Context, path string) error { return vault.Delete(ctx, u.c, path) }

func str(v any) string { return vault.String(v) }

func strs(v any) []string { return vault.Strings(v) }

// sameJSON compares two JSON documents by value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// randomPassword returns 32 random URL-safe characters (192 bits).
func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// WritePasswordFile writes password to path with mode 0600 (creating its
// folder with mode 0700), replacing any previous file.
func WritePasswordFile(path, password string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", path, err)
	}
	return secretfile.Write(path, []byte(password+"\n"))
}

// NewVaultClient returns a Vault client for addr with token, trusting
// caFile (PEM) when it is not empty, after checking that Vault answers,
// is unsealed and accepts the token.
func NewVaultClient(ctx context.Context, addr, token, caFile string) (*vaultapi.Client, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		return nil, errors.New("no Vault address: set VAULT_ADDR or -vault")
	}
	if token == "" {
		return nil, errors.New("no Vault token: set VAULT_TOKEN or -vault-token-file")
	}
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("configuring the Vault client: %w", cfg.Error)
	}
	cfg.Address = addr
	if caFile != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: caFile}); err != nil {
			return nil, fmt.Errorf("vault CA file %s: %w", caFile, err)
		}
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Vault client for %s: %w", addr, err)
	}
	c.SetToken(token)
	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault at %s is unreachable: %w", addr, err)
	}
	if h.Sealed {
		return nil, fmt.Errorf("vault at %s is sealed", addr)
	}
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return nil, fmt.Errorf("vault at %s did not accept the token: %w", addr, err)
	}
	return c, nil
}
