package provisioning

// The Vault side of provisioning. For each service S of the topology,
// ztedge keeps in Vault:
//
//   - the OIDC signing key identity/oidc/key/<Key> (shared by all services);
//   - the AppRole auth method at <AuthMount>, described "managed by ztedge";
//   - the ACL policy ztedge-S (read identity/oidc/token/S, introspect);
//   - the entity S with policy ztedge-S and metadata ztedge-managed=true;
//   - the AppRole role S in <AuthMount>, periodic tokens, policy ztedge-S;
//   - the entity alias (name = the role's role_id, mount = <AuthMount>)
//     that ties logins through role S to entity S;
//   - the OIDC role identity/oidc/role/S signing {"name":"S"} with <Key>;
//   - the credentials file <Output>/services/S/credentials.json.
//
// Ownership: the managed entities are the only marker Vault can hold, so
// the set of services ztedge created is the set of entities whose metadata
// carries ztedge-managed=true. Entities are created first and deleted last,
// so every other per-service object exists only while its entity does.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
)

const (
	// vaultManagedKey is the entity metadata key that marks an entity as
	// ztedge's. It is ManagedTag with the dot replaced: Vault only accepts
	// metadata keys matching [a-zA-Z0-9=/+_-]+ and rejects "ztedge.managed".
	vaultManagedKey = "ztedge-managed"
	// vaultMountDescription is the description of the AppRole auth method
	// ztedge enables; only a mount with this description is ever disabled.
	vaultMountDescription = "managed by ztedge"
	// vaultPolicyPrefix starts the name of every per-service policy.
	vaultPolicyPrefix = "ztedge-"
	// vaultDefaultKeyName is Vault's built-in OIDC key, never deleted.
	vaultDefaultKeyName = "default"
)

// Kinds of Vault objects, as shown in plans.
const (
	kindVaultKey         = "vault oidc key"
	kindVaultMount       = "vault auth mount"
	kindVaultPolicy      = "vault policy"
	kindVaultEntity      = "vault entity"
	kindVaultAppRole     = "vault approle role"
	kindVaultAlias       = "vault entity alias"
	kindVaultOIDCRole    = "vault oidc role"
	kindVaultCredentials = "vault credentials"
)

// newVaultClient builds a client from t.Vault (Address, CACert, token from
// TokenFile or env VAULT_TOKEN) and checks it: Vault unreachable -> error
// "vault at <addr> is unreachable: ..."; token rejected -> "vault at <addr>
// rejected the token from <file or VAULT_TOKEN>: ...".
func newVaultClient(ctx context.Context, t *Topology) (*vaultapi.Client, error) {
	addr := strings.TrimRight(strings.TrimSpace(t.Vault.Address), "/")
	if addr == "" {
		return nil, errors.New("vault.address is empty: set it to Vault's URL, e.g. http://127.0.0.1:8200")
	}
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("configuring the Vault client: %w", cfg.Error)
	}
	cfg.Address = addr
	if t.Vault.CACert != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: t.Vault.CACert}); err != nil {
			return nil, fmt.Errorf("vault.caCert %s: %w", t.Vault.CACert, err)
		}
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Vault client for %s: %w", addr, err)
	}

	token, source, err := vaultToken(t)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)

	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault at %s is unreachable: %w", addr, err)
	}
	if !h.Initialized {
		return nil, fmt.Errorf("vault at %s is not initialized", addr)
	}
	if h.Sealed {
		return nil, fmt.Errorf("vault at %s is sealed: unseal it first", addr)
	}

	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		var re *vaultapi.ResponseError
		if errors.As(err, &re) && (re.StatusCode == 401 || re.StatusCode == 403) {
			return nil, fmt.Errorf("vault at %s rejected the token from %s: %s", addr, source, strings.Join(re.Errors, "; "))
		}
		return nil, fmt.Errorf("vault at %s: checking the token from %s failed: %w", addr, source, err)
	}
	return c, nil
}

// vaultToken returns the management token and where it came from
// (the token file's path, or "VAULT_TOKEN").
func vaultToken(t *Topology) (token, source string, err error) {
	if t.Vault.TokenFile != "" {
		b, err := os.ReadFile(t.Vault.TokenFile)
		if err != nil {
			return "", "", fmt.Errorf("reading vault.tokenFile: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", "", fmt.Errorf("vault.tokenFile %s is empty", t.Vault.TokenFile)
		}
		return token, t.Vault.TokenFile, nil
	}
	token = strings.TrimSpace(os.Getenv("VAULT_TOKEN"))
	if token == "" {
		return "", "", errors.New("no Vault token: set vault.tokenFile in the topology or the VAULT_TOKEN environment variable")
	}
	return token, "VAULT_TOKEN", nil
}

// vaultSide plans changes to the Vault objects of a topology.
type vaultSide struct {
	c *vaultapi.Client
	t *Topology
}

// newVaultSide returns the Vault side of provisioning for topology t,
// using client c (see newVaultClient).
func newVaultSide(c *vaultapi.Client, t *Topology) *vaultSide {
	return &vaultSide{c: c, t: t}
}

// discover reads issuer and jwks_uri from GET
// /v1/identity/oidc/.well-known/openid-configuration (never hard-code them).
func (v *vaultSide) discover(ctx context.Context) (issuer, jwksURL string, err error) {
	const p = "identity/oidc/.well-known/openid-configuration"
	where := v.c.Address() + "/v1/" + p
	resp, err := v.c.Logical().ReadRawWithContext(ctx, p)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return "", "", fmt.Errorf("reading Vault's OIDC discovery document %s: %w", where, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := resp.DecodeJSON(&doc); err != nil {
		return "", "", fmt.Errorf("decoding Vault's OIDC discovery document %s: %w", where, err)
	}
	for _, f := range []struct{ name, value string }{{"issuer", doc.Issuer}, {"jwks_uri", doc.JWKSURI}} {
		u, err := url.Parse(f.value)
		if f.value == "" || err != nil || u.Scheme == "" || u.Host == "" {
			return "", "", fmt.Errorf("vault's OIDC discovery document %s has no usable %q (got %q)", where, f.name, f.value)
		}
	}
	return doc.Issuer, doc.JWKSURI, nil
}

// ---------------------------------------------------------------------------
// Desired state and comparison (pure helpers).

// oidcKeyConfig is the part of an OIDC key ztedge manages.
type oidcKeyConfig struct {
	Algorithm        string
	AllowedClientIDs []string
	RotationPeriod   int64 // seconds
	VerificationTTL  int64 // seconds
}

// appRoleConfig is the part of an AppRole role ztedge manages.
type appRoleConfig struct {
	TokenPolicies   []string
	TokenPeriod     int64 // seconds
	TokenTTL        int64 // seconds
	TokenMaxTTL     int64 // seconds
	SecretIDTTL     int64 // seconds
	SecretIDNumUses int64
	BindSecretID    bool
}

// oidcRoleConfig is the part of an OIDC role ztedge manages.
type oidcRoleConfig struct {
	Key      string
	ClientID string
	Template string // JSON, compared after normalisation
	TTL      int64  // seconds
}

// durationSeconds converts a duration to whole seconds, as Vault stores it.
func durationSeconds(d Duration) int64 { return int64(time.Duration(d) / time.Second) }

// keyTimings chooses the key's rotation period and verification TTL (in
// seconds) for identity tokens living jwtTTL seconds: one day each, unless
// tokens live longer, in which case the verification TTL is twice the
// token TTL (it must exceed it: a token signed just before a rotation must
// still verify until it expires) and the rotation period grows so that the
// verification TTL stays within Vault's limit of ten rotation periods.
func keyTimings(jwtTTL int64) (rotation, verification int64) {
	const day = 24 * 60 * 60
	rotation, verification = day, day
	if verification <= jwtTTL {
		verification = 2 * jwtTTL
	}
	if verification > 10*rotation {
		rotation = (verification + 9) / 10
	}
	return rotation, verification
}

// desiredKey is the OIDC key configuration for t.
func desiredKey(t *Topology) oidcKeyConfig {
	rot, ver := keyTimings(durationSeconds(t.JWT.TTL))
	return oidcKeyConfig{
		Algorithm:        t.Vault.Algorithm,
		AllowedClientIDs: []string{t.JWT.Audience},
		RotationPeriod:   rot,
		VerificationTTL:  ver,
	}
}

// desiredAppRole is the AppRole role configuration of service s: periodic
// tokens carrying only the service's policy (and Vault's default policy,
// which lets the token renew itself), secret_ids that never expire.
func desiredAppRole(t *Topology, s string) appRoleConfig {
	return appRoleConfig{
		TokenPolicies: []string{vaultPolicyName(s)},
		TokenPeriod:   durationSeconds(t.Vault.TokenPeriod),
		BindSecretID:  true,
	}
}

// desiredOIDCRole is the OIDC role configuration of service s.
func desiredOIDCRole(t *Topology, s string) oidcRoleConfig {
	return oidcRoleConfig{
		Key:      t.Vault.Key,
		ClientID: t.JWT.Audience,
		Template: oidcTemplate(s),
		TTL:      durationSeconds(t.JWT.TTL),
	}
}

// oidcTemplate is the claims template of service s: {"name":"s"}.
func oidcTemplate(s string) string {
	b, _ := json.Marshal(map[string]string{"name": s})
	return string(b)
}

// vaultPolicyName is the name of the ACL policy of service s. Vault
// lower-cases policy names, so the name is lower-cased here too.
func vaultPolicyName(s string) string { return vaultPolicyPrefix + strings.ToLower(s) }

// vaultPolicyText is the ACL policy of service s: read its own identity
// token, and introspect tokens.
func vaultPolicyText(s string) string {
	return fmt.Sprintf(`# Managed by ztedge: identity token of service %s.
path "identity/oidc/token/%s" {
  capabilities = ["read"]
}

path "identity/oidc/introspect" {
  capabilities = ["create", "update"]
}
`, s, s)
}

// fieldDiffs collects the differences between the state read from Vault
// ("have") and the desired state ("want"), one "field: have -> want" each.
type fieldDiffs []string

func (d *fieldDiffs) str(field, have, want string) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %q -> %q", field, have, want))
	}
}

func (d *fieldDiffs) secs(field string, have, want int64) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %s -> %s", field, fmtSeconds(have), fmtSeconds(want)))
	}
}

func (d *fieldDiffs) num(field string, have, want int64) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %d -> %d", field, have, want))
	}
}

func (d *fieldDiffs) boolean(field string, have, want bool) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %t -> %t", field, have, want))
	}
}

func (d *fieldDiffs) set(field string, have, want []string) {
	if !sameSet(have, want) {
		*d = append(*d, fmt.Sprintf("%s: [%s] -> [%s]", field, strings.Join(normSet(have), " "), strings.Join(normSet(want), " ")))
	}
}

// add records a difference described in words.
func (d *fieldDiffs) add(what string) { *d = append(*d, what) }

// detail joins the differences for a Change's Detail.
func (d fieldDiffs) detail() string { return strings.Join(d, "; ") }

// fmtSeconds formats seconds as a duration, e.g. 3600 -> "1h0m0s".
func fmtSeconds(s int64) string { return (time.Duration(s) * time.Second).String() }

// normSet sorts and de-duplicates a list, dropping empty entries.
func normSet(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// sameSet reports whether two lists hold the same entries, ignoring order
// and duplicates.
func sameSet(a, b []string) bool { return slices.Equal(normSet(a), normSet(b)) }

// normJSON returns s re-encoded compactly with sorted keys, or s trimmed
// when it is not JSON, so that equivalent templates compare equal.
func normJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return strings.TrimSpace(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return strings.TrimSpace(s)
	}
	return string(b)
}

// diff lists the fields of key configuration have that differ from want.
func (have oidcKeyConfig) diff(want oidcKeyConfig) fieldDiffs {
	var d fieldDiffs
	d.str("algorithm", have.Algorithm, want.Algorithm)
	d.set("allowed_client_ids", have.AllowedClientIDs, want.AllowedClientIDs)
	d.secs("rotation_period", have.RotationPeriod, want.RotationPeriod)
	d.secs("verification_ttl", have.VerificationTTL, want.VerificationTTL)
	return d
}

// diff lists the fields of AppRole role configuration have that differ from want.
func (have appRoleConfig) diff(want appRoleConfig) fieldDiffs {
	var d fieldDiffs
	d.set("token_policies", have.TokenPolicies, want.TokenPolicies)
	d.secs("token_period", have.TokenPeriod, want.TokenPeriod)
	d.secs("token_ttl", have.TokenTTL, want.TokenTTL)
	d.secs("token_max_ttl", have.TokenMaxTTL, want.TokenMaxTTL)
	d.secs("secret_id_ttl", have.SecretIDTTL, want.SecretIDTTL)
	d.num("secret_id_num_uses", have.SecretIDNumUses, want.SecretIDNumUses)
	d.boolean("bind_secret_id", have.BindSecretID, want.BindSecretID)
	return d
}

// diff lists the fields of OIDC role configuration have that differ from want.
func (have oidcRoleConfig) diff(want oidcRoleConfig) fieldDiffs {
	var d fieldDiffs
	d.str("key", have.Key, want.Key)
	d.str("client_id", have.ClientID, want.ClientID)
	d.str("template", normJSON(have.Template), normJSON(want.Template))
	d.secs("ttl", have.TTL, want.TTL)
	return d
}

// samePolicyText reports whether two policy documents are the same, ignoring
// leading/trailing white space and line-ending differences.
func samePolicyText(a, b string) bool {
	n := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	return n(a) == n(b)
}

// ---------------------------------------------------------------------------
// Reading Vault's answers. Vault's JSON is decoded with UseNumber, so numbers
// arrive as json.Number; durations come back as whole seconds.

// asString returns v as a string ("" when absent or not a string).
func asString(v any) string {
	s, _ := v.(string)
	return s
}

// asStrings returns a list of strings; a single string counts as a list
// and a comma-separated string is split.
func asStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		parts := strings.Split(x, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	default:
		return []string{fmt.Sprint(x)}
	}
}

// asSeconds returns a duration field as whole seconds. Vault answers with
// numbers of seconds; a string such as "1h" or "3600" is also accepted.
func asSeconds(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("not a number of seconds: %q", x)
		}
		return int64(f), nil
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case string:
		if x == "" {
			return 0, nil
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("not a duration: %q", x)
		}
		return int64(d / time.Second), nil
	default:
		return 0, fmt.Errorf("unexpected %T for a duration", v)
	}
}

// asBool returns a boolean field ("true" strings included).
func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

// parseKeyConfig reads an identity/oidc/key answer.
func parseKeyConfig(data map[string]any) (oidcKeyConfig, error) {
	var k oidcKeyConfig
	var err error
	k.Algorithm = asString(data["algorithm"])
	k.AllowedClientIDs = asStrings(data["allowed_client_ids"])
	if k.RotationPeriod, err = asSeconds(data["rotation_period"]); err != nil {
		return k, fmt.Errorf("rotation_period: %w", err)
	}
	if k.VerificationTTL, err = asSeconds(data["verification_ttl"]); err != nil {
		return k, fmt.Errorf("verification_ttl: %w", err)
	}
	return k, nil
}

// parseAppRoleConfig reads an auth/<mount>/role/<name> answer.
func parseAppRoleConfig(data map[string]any) (appRoleConfig, error) {
	var r appRoleConfig
	var err error
	r.TokenPolicies = asStrings(data["token_policies"])
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"token_period", &r.TokenPeriod},
		{"token_ttl", &r.TokenTTL},
		{"token_max_ttl", &r.TokenMaxTTL},
		{"secret_id_ttl", &r.SecretIDTTL},
		{"secret_id_num_uses", &r.SecretIDNumUses},
	} {
		if *f.dst, err = asSeconds(data[f.name]); err != nil {
			return r, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	r.BindSecretID = asBool(data["bind_secret_id"])
	return r, nil
}

// parseOIDCRoleConfig reads an identity/oidc/role/<name> answer.
func parseOIDCRoleConfig(data map[string]any) (oidcRoleConfig, error) {
	var r oidcRoleConfig
	var err error
	r.Key = asString(data["key"])
	r.ClientID = asString(data["client_id"])
	r.Template = asString(data["template"])
	if r.TTL, err = asSeconds(data["ttl"]); err != nil {
		return r, fmt.Errorf("ttl: %w", err)
	}
	return r, nil
}

// vaultEntity is an identity entity as read from Vault.
type vaultEntity struct {
	ID       string
	Name     string
	Policies []string
	Metadata map[string]string
	Disabled bool
	Aliases  []vaultAlias
}

// managed reports whether ztedge created the entity.
func (e *vaultEntity) managed() bool { return e.Metadata[vaultManagedKey] == ManagedValue }

// aliasesOn returns the entity's aliases on the auth mount with the given accessor.
func (e *vaultEntity) aliasesOn(accessor string) []vaultAlias {
	var out []vaultAlias
	for _, a := range e.Aliases {
		if a.MountAccessor == accessor {
			out = append(out, a)
		}
	}
	return out
}

// vaultAlias is an entity alias as read from Vault.
type vaultAlias struct {
	ID            string
	Name          string
	MountAccessor string
	CanonicalID   string
}

// parseEntity reads an identity/entity answer.
func parseEntity(data map[string]any) *vaultEntity {
	e := &vaultEntity{
		ID:       asString(data["id"]),
		Name:     asString(data["name"]),
		Policies: asStrings(data["policies"]),
		Disabled: asBool(data["disabled"]),
		Metadata: map[string]string{},
	}
	if m, ok := data["metadata"].(map[string]any); ok {
		for k, v := range m {
			e.Metadata[k] = fmt.Sprint(v)
		}
	}
	if l, ok := data["aliases"].([]any); ok {
		for _, raw := range l {
			if m, ok := raw.(map[string]any); ok {
				e.Aliases = append(e.Aliases, parseAlias(asString(m["id"]), m))
			}
		}
	}
	return e
}

// parseAlias reads an entity alias from an entity answer or alias listing.
func parseAlias(id string, m map[string]any) vaultAlias {
	a := vaultAlias{
		ID:            id,
		Name:          asString(m["name"]),
		MountAccessor: asString(m["mount_accessor"]),
		CanonicalID:   asString(m["canonical_id"]),
	}
	return a
}

// aliasProblem says what is wrong with the aliases of entity (id entityID)
// on the auth mount with the given accessor, given the service's role_id
// and every alias on that mount: "" when the entity has exactly one alias
// there, named roleID.
func aliasProblem(all []vaultAlias, entityID, roleID string) string {
	var mine []vaultAlias
	found := false
	for _, a := range all {
		if a.CanonicalID == entityID {
			mine = append(mine, a)
		}
		if a.Name == roleID {
			found = true
			if a.CanonicalID != entityID {
				return "the role's alias belongs to another entity"
			}
		}
	}
	switch {
	case !found && len(mine) == 0:
		return "missing"
	case !found:
		return "alias name is not the role's current role_id"
	case len(mine) > 1:
		return "entity has extra aliases on the mount"
	}
	return ""
}

// ---------------------------------------------------------------------------
// Reading the state of Vault.

// isNotFound reports whether err is a 404 answer.
func isNotFound(err error) bool { return vault.IsNotFound(err) }

// read reads path and returns its data, or nil when it does not exist.
func (v *vaultSide) read(ctx context.Context, path string) (map[string]any, error) {
	return vault.Read(ctx, v.c, path)
}

// write writes data to path and returns the answer's data (may be nil).
func (v *vaultSide) write(ctx context.Context, path string, data map[string]any) (map[string]any, error) {
	return vault.Write(ctx, v.c, path, data)
}

// del deletes path; a path that is already gone is not an error.
func (v *vaultSide) del(ctx context.Context, path string) error {
	return vault.Delete(ctx, v.c, path)
}

// list lists path and returns its keys and key_info (both may be empty).
func (v *vaultSide) list(ctx context.Context, path string) ([]string, map[string]any, error) {
	data, err := vault.List(ctx, v.c, path)
	if err != nil || data == nil {
		return nil, nil, err
	}
	info, _ := data["key_info"].(map[string]any)
	return asStrings(data["keys"]), info, nil
}

// mountPath is the AppRole mount path without slashes.
func (v *vaultSide) mountPath() string { return strings.Trim(v.t.Vault.AuthMount, "/") }

// appRolePath is the path of AppRole role s.
func (v *vaultSide) appRolePath(s string) string { return "auth/" + v.mountPath() + "/role/" + s }

// readKey reads the OIDC key, nil when it does not exist.
func (v *vaultSide) readKey(ctx context.Context) (*oidcKeyConfig, error) {
	data, err := v.read(ctx, "identity/oidc/key/"+v.t.Vault.Key)
	if err != nil || data == nil {
		return nil, err
	}
	k, err := parseKeyConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault oidc key %q: %w", v.t.Vault.Key, err)
	}
	return &k, nil
}

// authMount returns the AppRole mount (nil when missing) and whether
// ztedge owns it (type approle, description "managed by ztedge").
func (v *vaultSide) authMount(ctx context.Context) (m *vaultapi.AuthMount, owned bool, err error) {
	mounts, err := v.c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("listing Vault auth methods: %w", err)
	}
	m = mounts[v.mountPath()+"/"]
	if m == nil {
		return nil, false, nil
	}
	return m, m.Type == "approle" && strings.TrimSpace(m.Description) == vaultMountDescription, nil
}

// entityByName reads entity name, nil when it does not exist.
func (v *vaultSide) entityByName(ctx context.Context, name string) (*vaultEntity, error) {
	data, err := v.read(ctx, "identity/entity/name/"+name)
	if err != nil || data == nil {
		return nil, err
	}
	return parseEntity(data), nil
}

// managedEntities returns every entity ztedge created, sorted by name.
func (v *vaultSide) managedEntities(ctx context.Context) ([]*vaultEntity, error) {
	ids, _, err := v.list(ctx, "identity/entity/id")
	if err != nil {
		return nil, err
	}
	var out []*vaultEntity
	for _, id := range ids {
		data, err := v.read(ctx, "identity/entity/id/"+id)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue // deleted meanwhile
		}
		if e := parseEntity(data); e.managed() {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// aliasesOnMount lists every entity alias on the auth mount with the given accessor.
func (v *vaultSide) aliasesOnMount(ctx context.Context, accessor string) ([]vaultAlias, error) {
	ids, info, err := v.list(ctx, "identity/entity-alias/id")
	if err != nil {
		return nil, err
	}
	var out []vaultAlias
	for _, id := range ids {
		m, _ := info[id].(map[string]any)
		if m == nil {
			continue
		}
		if a := parseAlias(id, m); a.MountAccessor == accessor {
			out = append(out, a)
		}
	}
	return out, nil
}

// readAppRole reads AppRole role s, nil when it does not exist.
func (v *vaultSide) readAppRole(ctx context.Context, s string) (*appRoleConfig, error) {
	data, err := v.read(ctx, v.appRolePath(s))
	if err != nil || data == nil {
		return nil, err
	}
	r, err := parseAppRoleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault approle role %q: %w", s, err)
	}
	return &r, nil
}

// roleID reads the role_id of AppRole role s.
func (v *vaultSide) roleID(ctx context.Context, s string) (string, error) {
	data, err := v.read(ctx, v.appRolePath(s)+"/role-id")
	if err != nil {
		return "", err
	}
	id := asString(data["role_id"])
	if id == "" {
		return "", fmt.Errorf("vault approle role %q in %s has no role_id", s, v.mountPath())
	}
	return id, nil
}

// readOIDCRole reads OIDC role s, nil when it does not exist.
func (v *vaultSide) readOIDCRole(ctx context.Context, s string) (*oidcRoleConfig, error) {
	data, err := v.read(ctx, "identity/oidc/role/"+s)
	if err != nil || data == nil {
		return nil, err
	}
	r, err := parseOIDCRoleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vault oidc role %q: %w", s, err)
	}
	return &r, nil
}

// readPolicy returns the text of ACL policy name and whether it exists.
func (v *vaultSide) readPolicy(ctx context.Context, name string) (text string, exists bool, err error) {
	text, err = v.c.Sys().GetPolicyWithContext(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading vault policy %q: %w", name, err)
	}
	return text, text != "", nil
}

// secretIDValid reports whether secretID is a live secret_id of AppRole role s.
func (v *vaultSide) secretIDValid(ctx context.Context, s, secretID string) (bool, error) {
	data, err := v.write(ctx, v.appRolePath(s)+"/secret-id/lookup", map[string]any{"secret_id": secretID})
	if err != nil {
		var re *vaultapi.ResponseError
		if errors.As(err, &re) && (re.StatusCode == 400 || re.StatusCode == 404) {
			return false, nil // "invalid secret id"
		}
		return false, fmt.Errorf("vault approle role %q: looking up the secret_id from the credentials file: %w", s, err)
	}
	if data == nil {
		return false, nil
	}
	if exp := asString(data["expiration_time"]); exp != "" {
		if t, err := time.Parse(time.RFC3339Nano, exp); err == nil && !t.IsZero() && time.Now().After(t) {
			return false, nil
		}
	}
	return true, nil
}

// vaultState is what plan and destroyPlan read before deciding.
type vaultState struct {
	key          *oidcKeyConfig
	mount        *vaultapi.AuthMount // nil when missing
	mountOwned   bool
	managed      []*vaultEntity
	aliases      []vaultAlias // on the mount, when it exists
	managedNames map[string]bool
}

// load reads the shared objects and the managed entities.
func (v *vaultSide) load(ctx context.Context) (*vaultState, error) {
	st := &vaultState{managedNames: map[string]bool{}}
	var err error
	if st.key, err = v.readKey(ctx); err != nil {
		return nil, err
	}
	if st.mount, st.mountOwned, err = v.authMount(ctx); err != nil {
		return nil, err
	}
	if st.managed, err = v.managedEntities(ctx); err != nil {
		return nil, err
	}
	for _, e := range st.managed {
		st.managedNames[e.Name] = true
	}
	if st.mount != nil && st.mountOwned {
		if st.aliases, err = v.aliasesOnMount(ctx, st.mount.Accessor); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// ---------------------------------------------------------------------------
// Planning.

// plan compares Vault with the topology and returns the changes to converge
// (each Change has Op, Kind like "vault oidc key", Name, Detail, and the
// unexported apply closure set).
//
// Order: removals of services no longer in the topology (OIDC role,
// AppRole role, credentials, aliases, policy, entity last); then the OIDC
// key and the auth mount; then per service the entity, policy, AppRole
// role, entity alias, OIDC role and credentials file. A key update that
// shortens the verification TTL goes last, after the roles' TTLs shrink.
func (v *vaultSide) plan(ctx context.Context) ([]Change, error) {
	st, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	if st.mount != nil && !st.mountOwned {
		return nil, fmt.Errorf("vault auth mount %q exists but is not ztedge's (type %q, description %q; ztedge's is an approle mount described %q): choose another vault.authMount or disable that mount",
			v.mountPath(), st.mount.Type, st.mount.Description, vaultMountDescription)
	}

	inTopology := map[string]bool{}
	for _, s := range v.t.Services {
		inTopology[s.Name] = true
	}

	var changes []Change
	for _, e := range st.managed {
		if inTopology[e.Name] {
			continue
		}
		rm, err := v.removeService(ctx, st, e)
		if err != nil {
			return nil, err
		}
		changes = append(changes, rm...)
	}

	keyChange, keyLast := v.planKey(st)
	if keyChange != nil && !keyLast {
		changes = append(changes, *keyChange)
	}

	if st.mount == nil {
		mount := v.mountPath()
		changes = append(changes, Change{
			Op: OpCreate, Kind: kindVaultMount, Name: mount, Detail: "approle",
			apply: func(ctx context.Context) error {
				err := v.c.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &vaultapi.EnableAuthOptions{
					Type:        "approle",
					Description: vaultMountDescription,
				})
				if err != nil {
					return fmt.Errorf("enabling approle at %s: %w", mount, err)
				}
				return nil
			},
		})
	}

	for _, s := range v.t.Services {
		sc, err := v.planService(ctx, st, s.Name)
		if err != nil {
			return nil, err
		}
		changes = append(changes, sc...)
	}

	if keyChange != nil && keyLast {
		changes = append(changes, *keyChange)
	}
	return changes, nil
}

// planKey returns the change for the OIDC key (nil when it matches) and
// whether it must run after the roles (an update shortening verification_ttl).
func (v *vaultSide) planKey(st *vaultState) (*Change, bool) {
	want := desiredKey(v.t)
	name := v.t.Vault.Key
	write := func(ctx context.Context) error {
		_, err := v.write(ctx, "identity/oidc/key/"+name, map[string]any{
			"algorithm":          want.Algorithm,
			"allowed_client_ids": want.AllowedClientIDs,
			"rotation_period":    want.RotationPeriod,
			"verification_ttl":   want.VerificationTTL,
		})
		return err
	}
	if st.key == nil {
		return &Change{Op: OpCreate, Kind: kindVaultKey, Name: name,
			Detail: fmt.Sprintf("%s, allowed_client_ids [%s]", want.Algorithm, strings.Join(want.AllowedClientIDs, " ")),
			apply:  write}, false
	}
	d := st.key.diff(want)
	if len(d) == 0 {
		return nil, false
	}
	return &Change{Op: OpUpdate, Kind: kindVaultKey, Name: name, Detail: d.detail(), apply: write},
		want.VerificationTTL < st.key.VerificationTTL
}

// planService returns the changes that converge the objects of service s.
func (v *vaultSide) planService(ctx context.Context, st *vaultState, s string) ([]Change, error) {
	var changes []Change
	policy := vaultPolicyName(s)

	// Entity (created first: it is what marks everything else as ztedge's).
	entity, err := v.entityByName(ctx, s)
	if err != nil {
		return nil, err
	}
	if entity != nil && !entity.managed() {
		return nil, fmt.Errorf("vault entity %q already exists and was not created by ztedge (its metadata lacks %s=%s): ztedge will not take it over; rename the service or delete that entity", s, vaultManagedKey, ManagedValue)
	}
	if entity == nil {
		// Nothing of s is ztedge's yet: refuse to overwrite objects
		// someone else made under the names ztedge would use.
		if _, exists, err := v.readPolicy(ctx, policy); err != nil {
			return nil, err
		} else if exists {
			return nil, fmt.Errorf("vault policy %q already exists but service %q has no ztedge entity, so ztedge did not create it: ztedge will not overwrite it; rename the service or delete that policy", policy, s)
		}
		if r, err := v.readOIDCRole(ctx, s); err != nil {
			return nil, err
		} else if r != nil {
			return nil, fmt.Errorf("vault oidc role %q already exists but service %q has no ztedge entity, so ztedge did not create it: ztedge will not overwrite it; rename the service or delete that role", s, s)
		}
		changes = append(changes, Change{Op: OpCreate, Kind: kindVaultEntity, Name: s,
			Detail: "policies [" + policy + "]", apply: v.applyEntity(s)})
	} else {
		var d fieldDiffs
		d.set("policies", entity.Policies, []string{policy})
		d.boolean("disabled", entity.Disabled, false)
		if len(d) > 0 {
			changes = append(changes, Change{Op: OpUpdate, Kind: kindVaultEntity, Name: s,
				Detail: d.detail(), apply: v.applyEntity(s)})
		}
	}

	// Policy.
	text, exists, err := v.readPolicy(ctx, policy)
	if err != nil {
		return nil, err
	}
	// EDGEX HOOK (issue 10): the policy text includes the EdgeX paths of
	// the service (edgex.go, policyText); keep this call in the refactor.
	if !exists || !samePolicyText(text, v.policyText(s)) {
		op, detail := OpCreate, ""
		if exists {
			op, detail = OpUpdate, "rules differ"
		}
		want := v.policyText(s)
		changes = append(changes, Change{Op: op, Kind: kindVaultPolicy, Name: policy, Detail: detail,
			apply: func(ctx context.Context) error {
				if err := v.c.Sys().PutPolicyWithContext(ctx, policy, want); err != nil {
					return fmt.Errorf("writing policy %s: %w", policy, err)
				}
				return nil
			}})
	}

	// AppRole role. The mount is ztedge's, so a role there is ztedge's.
	var role *appRoleConfig
	if st.mount != nil {
		if role, err = v.readAppRole(ctx, s); err != nil {
			return nil, err
		}
	}
	wantRole := desiredAppRole(v.t, s)
	writeRole := func(ctx context.Context) error {
		_, err := v.write(ctx, v.appRolePath(s), map[string]any{
			"token_policies":     wantRole.TokenPolicies,
			"token_period":       wantRole.TokenPeriod,
			"token_ttl":          wantRole.TokenTTL,
			"token_max_ttl":      wantRole.TokenMaxTTL,
			"secret_id_ttl":      wantRole.SecretIDTTL,
			"secret_id_num_uses": wantRole.SecretIDNumUses,
			"bind_secret_id":     wantRole.BindSecretID,
		})
		return err
	}
	if role == nil {
		changes = append(changes, Change{Op: OpCreate, Kind: kindVaultAppRole, Name: s,
			Detail: "token_period " + fmtSeconds(wantRole.TokenPeriod), apply: writeRole})
	} else if d := role.diff(wantRole); len(d) > 0 {
		changes = append(changes, Change{Op: OpUpdate, Kind: kindVaultAppRole, Name: s,
			Detail: d.detail(), apply: writeRole})
	}

	// Entity alias: name = role_id, on the mount, for the entity.
	var roleID string
	if role != nil {
		if roleID, err = v.roleID(ctx, s); err != nil {
			return nil, err
		}
	}
	switch {
	case entity == nil || role == nil:
		changes = append(changes, Change{Op: OpCreate, Kind: kindVaultAlias, Name: s,
			Detail: "login through approle role " + s + " is entity " + s, apply: v.applyAlias(s)})
	default:
		if problem := aliasProblem(st.aliases, entity.ID, roleID); problem == "missing" {
			changes = append(changes, Change{Op: OpCreate, Kind: kindVaultAlias, Name: s,
				Detail: "login through approle role " + s + " is entity " + s, apply: v.applyAlias(s)})
		} else if problem != "" {
			changes = append(changes, Change{Op: OpUpdate, Kind: kindVaultAlias, Name: s,
				Detail: problem, apply: v.applyAlias(s)})
		}
	}

	// OIDC role.
	oidcRole, err := v.readOIDCRole(ctx, s)
	if err != nil {
		return nil, err
	}
	wantOIDC := desiredOIDCRole(v.t, s)
	writeOIDC := func(ctx context.Context) error {
		_, err := v.write(ctx, "identity/oidc/role/"+s, map[string]any{
			"key":       wantOIDC.Key,
			"client_id": wantOIDC.ClientID,
			"template":  wantOIDC.Template,
			"ttl":       wantOIDC.TTL,
		})
		return err
	}
	if oidcRole == nil {
		changes = append(changes, Change{Op: OpCreate, Kind: kindVaultOIDCRole, Name: s,
			Detail: "key " + wantOIDC.Key + ", client_id " + wantOIDC.ClientID + ", ttl " + fmtSeconds(wantOIDC.TTL), apply: writeOIDC})
	} else if d := oidcRole.diff(wantOIDC); len(d) > 0 {
		changes = append(changes, Change{Op: OpUpdate, Kind: kindVaultOIDCRole, Name: s,
			Detail: d.detail(), apply: writeOIDC})
	}

	// Credentials file.
	cc, err := v.planCredentials(ctx, s, roleID)
	if err != nil {
		return nil, err
	}
	if cc != nil {
		changes = append(changes, *cc)
	}
	return changes, nil
}

// applyEntity creates entity s, or brings its policies back to [ztedge-s]
// and enables it. It checks again, at apply time, that an existing entity
// is ztedge's: writing identity/entity with an existing name would
// otherwise update someone else's entity.
func (v *vaultSide) applyEntity(s string) func(context.Context) error {
	policy := vaultPolicyName(s)
	return func(ctx context.Context) error {
		e, err := v.entityByName(ctx, s)
		if err != nil {
			return err
		}
		if e == nil {
			_, err := v.write(ctx, "identity/entity", map[string]any{
				"name":     s,
				"policies": []string{policy},
				"metadata": map[string]string{vaultManagedKey: ManagedValue},
			})
			return err
		}
		if !e.managed() {
			return fmt.Errorf("vault entity %q exists and was not created by ztedge: refusing to change it", s)
		}
		_, err = v.write(ctx, "identity/entity/id/"+e.ID, map[string]any{
			"policies": []string{policy},
			"disabled": false,
		})
		return err
	}
}

// applyAlias makes the alias of AppRole role s (name = role_id) on the
// mount belong to entity s, and removes the entity's other aliases on the
// mount. Every identifier is read at apply time: the mount, role and
// entity may have been created by earlier changes of the same plan.
func (v *vaultSide) applyAlias(s string) func(context.Context) error {
	return func(ctx context.Context) error {
		m, owned, err := v.authMount(ctx)
		if err != nil {
			return err
		}
		if m == nil || !owned {
			return fmt.Errorf("the approle mount %s is missing or not ztedge's", v.mountPath())
		}
		roleID, err := v.roleID(ctx, s)
		if err != nil {
			return err
		}
		e, err := v.entityByName(ctx, s)
		if err != nil {
			return err
		}
		if e == nil || !e.managed() {
			return fmt.Errorf("vault entity %q is missing or not ztedge's", s)
		}
		all, err := v.aliasesOnMount(ctx, m.Accessor)
		if err != nil {
			return err
		}
		var target *vaultAlias
		for i, a := range all {
			if a.Name == roleID {
				target = &all[i]
			} else if a.CanonicalID == e.ID {
				if err := v.del(ctx, "identity/entity-alias/id/"+a.ID); err != nil {
					return err
				}
			}
		}
		body := map[string]any{"name": roleID, "mount_accessor": m.Accessor, "canonical_id": e.ID}
		switch {
		case target == nil:
			_, err = v.write(ctx, "identity/entity-alias", body)
		case target.CanonicalID != e.ID:
			// A login happened before the alias existed and Vault made an
			// entity of its own for it: move the alias to entity s.
			_, err = v.write(ctx, "identity/entity-alias/id/"+target.ID, body)
		}
		return err
	}
}

// planCredentials decides whether the credentials file of s must be
// (re)written. roleID is the role's current role_id, or "" when the role
// does not exist yet. A new secret_id is generated only when the file is
// missing or unusable, names another role_id, or holds a secret_id Vault
// no longer accepts; when only descriptive fields differ (address, mount,
// audience) the file is rewritten with the same secret_id.
func (v *vaultSide) planCredentials(ctx context.Context, s, roleID string) (*Change, error) {
	path := credentials.Path(v.t.Output, s)
	want := v.credentialsFor(s)
	cur, err := credentials.Read(path)
	regenerate := func(op Op, why string) *Change {
		return &Change{Op: op, Kind: kindVaultCredentials, Name: s, Detail: why + "; new secret_id",
			apply: v.applyNewCredentials(s)}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return regenerate(OpCreate, "file missing"), nil
	case err != nil:
		return regenerate(OpUpdate, "file unusable ("+err.Error()+")"), nil
	case roleID == "":
		return regenerate(OpUpdate, "approle role is new"), nil
	case cur.RoleID != roleID:
		return regenerate(OpUpdate, "file is for another role_id"), nil
	}
	valid, err := v.secretIDValid(ctx, s, cur.SecretID)
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
	if len(d) == 0 {
		return nil, nil
	}
	keep := want
	keep.RoleID, keep.SecretID = cur.RoleID, cur.SecretID
	return &Change{Op: OpUpdate, Kind: kindVaultCredentials, Name: s, Detail: d.detail() + " (same secret_id)",
		apply: func(ctx context.Context) error { return credentials.Write(path, &keep) }}, nil
}

// credentialsFor returns the credentials of s without role_id and secret_id.
func (v *vaultSide) credentialsFor(s string) credentials.Service {
	return credentials.Service{
		Service:      s,
		VaultAddress: strings.TrimRight(strings.TrimSpace(v.t.Vault.Address), "/"),
		AuthMount:    v.mountPath(),
		OIDCRole:     s,
		Audience:     v.t.JWT.Audience,
	}
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
		secretID, accessor := asString(data["secret_id"]), asString(data["secret_id_accessor"])
		if secretID == "" || accessor == "" {
			return fmt.Errorf("vault returned no secret_id for approle role %q", s)
		}
		c := v.credentialsFor(s)
		c.RoleID, c.SecretID = roleID, secretID
		if err := credentials.Write(path, &c); err != nil {
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

// removeService returns the changes that delete every object of the
// managed entity e: OIDC role, AppRole role, credentials folder, aliases
// on the mount, policy, and the entity last.
func (v *vaultSide) removeService(ctx context.Context, st *vaultState, e *vaultEntity) ([]Change, error) {
	s := e.Name
	var changes []Change

	if r, err := v.readOIDCRole(ctx, s); err != nil {
		return nil, err
	} else if r != nil {
		changes = append(changes, Change{Op: OpDelete, Kind: kindVaultOIDCRole, Name: s,
			apply: func(ctx context.Context) error { return v.del(ctx, "identity/oidc/role/"+s) }})
	}

	if st.mount != nil && st.mountOwned {
		if r, err := v.readAppRole(ctx, s); err != nil {
			return nil, err
		} else if r != nil {
			changes = append(changes, Change{Op: OpDelete, Kind: kindVaultAppRole, Name: s,
				apply: func(ctx context.Context) error { return v.del(ctx, v.appRolePath(s)) }})
		}
	}

	dir, err := v.serviceFolder(s)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dir); err == nil {
		changes = append(changes, Change{Op: OpDelete, Kind: kindVaultCredentials, Name: s, Detail: dir,
			apply: func(context.Context) error {
				if err := os.RemoveAll(dir); err != nil {
					return fmt.Errorf("removing credentials folder %s: %w", dir, err)
				}
				return nil
			}})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("credentials folder of %q: %w", s, err)
	}

	if st.mount != nil && st.mountOwned {
		for _, a := range e.aliasesOn(st.mount.Accessor) {
			id := a.ID
			changes = append(changes, Change{Op: OpDelete, Kind: kindVaultAlias, Name: s,
				apply: func(ctx context.Context) error { return v.del(ctx, "identity/entity-alias/id/"+id) }})
		}
	}

	policy := vaultPolicyName(s)
	if _, exists, err := v.readPolicy(ctx, policy); err != nil {
		return nil, err
	} else if exists {
		changes = append(changes, Change{Op: OpDelete, Kind: kindVaultPolicy, Name: policy,
			apply: func(ctx context.Context) error {
				if err := v.c.Sys().DeletePolicyWithContext(ctx, policy); err != nil && !isNotFound(err) {
					return fmt.Errorf("deleting policy %s: %w", policy, err)
				}
				return nil
			}})
	}

	id := e.ID
	changes = append(changes, Change{Op: OpDelete, Kind: kindVaultEntity, Name: s,
		apply: func(ctx context.Context) error {
			// Check again: only ever delete an entity marked as ztedge's.
			data, err := v.read(ctx, "identity/entity/id/"+id)
			if err != nil || data == nil {
				return err
			}
			if !parseEntity(data).managed() {
				return fmt.Errorf("vault entity %q is no longer marked as ztedge's: not deleting it", s)
			}
			return v.del(ctx, "identity/entity/id/"+id)
		}})
	return changes, nil
}

// destroyPlan returns the changes that remove everything ztedge created in
// Vault and nothing else: every managed entity's objects (as removeService),
// then the OIDC key (unless OIDC roles ztedge did not create still use it,
// which is an error naming them), then the AppRole mount if its
// description says it is ztedge's.
func (v *vaultSide) destroyPlan(ctx context.Context) ([]Change, error) {
	st, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, e := range st.managed {
		rm, err := v.removeService(ctx, st, e)
		if err != nil {
			return nil, err
		}
		changes = append(changes, rm...)
	}

	key := v.t.Vault.Key
	if st.key != nil && key != vaultDefaultKeyName {
		users, err := v.foreignKeyUsers(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			return nil, fmt.Errorf("vault oidc key %q is still used by OIDC roles ztedge did not create (%s): delete them or point them at another key, then destroy again", key, strings.Join(users, ", "))
		}
		changes = append(changes, Change{Op: OpDelete, Kind: kindVaultKey, Name: key,
			apply: func(ctx context.Context) error { return v.del(ctx, "identity/oidc/key/"+key) }})
	}

	if st.mount != nil && st.mountOwned {
		mount := v.mountPath()
		changes = append(changes, Change{Op: OpDelete, Kind: kindVaultMount, Name: mount,
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
			}})
	}
	return changes, nil
}

// foreignKeyUsers lists the OIDC roles that use the key and are not the
// role of a managed service.
func (v *vaultSide) foreignKeyUsers(ctx context.Context, st *vaultState) ([]string, error) {
	names, _, err := v.list(ctx, "identity/oidc/role")
	if err != nil {
		return nil, err
	}
	var users []string
	for _, n := range names {
		if st.managedNames[n] {
			continue
		}
		r, err := v.readOIDCRole(ctx, n)
		if err != nil {
			return nil, err
		}
		if r != nil && r.Key == v.t.Vault.Key {
			users = append(users, n)
		}
	}
	sort.Strings(users)
	return users, nil
}
