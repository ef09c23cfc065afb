package zerotrust

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/yesno"
)

// Mode is a security mode: plain TCP or zero trust over OpenZiti.
type Mode string

// The security modes. The empty string in configuration means [ModePlain].
const (
	ModePlain     Mode = "plain"
	ModeZeroTrust Mode = "zerotrust"
)

// ParseMode reads a mode case-insensitively; the empty string is plain.
func ParseMode(s string) (Mode, error) {
	m, err := parseMode(s)
	return m, errprefix.Add(errPrefix, err)
}

// parseMode is ParseMode without the package's prefix.
func parseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "plain":
		return ModePlain, nil
	case "zerotrust":
		return ModeZeroTrust, nil
	}
	return "", fmt.Errorf("unknown mode %q (use %q, or %q or nothing for plain)", s, ModeZeroTrust, ModePlain)
}

// Keys of [SecurityOptions]. Keys are matched case-insensitively.
const (
	// KeyMode selects the mode: "zerotrust", or "plain" or empty for plain.
	KeyMode = "Mode"
	// KeyController is the Ziti controller, as host:port or https URL.
	KeyController = "OpenZitiController"
	// KeyControllerCA is a PEM file with the controller's CA bundle. When
	// empty, the bundle is fetched from the controller (trust on first use).
	KeyControllerCA = "OpenZitiCAFile"
	// KeyCredentials is the Vault credentials file provisioning wrote for
	// the service ("<output>/services/<name>/credentials.json").
	KeyCredentials = "VaultCredentialsFile"
	// KeyIdentityFile is an enrolled Ziti identity file (certificate, key
	// and the controller's CA) the service joins the overlay with instead
	// of its Vault JWT: provisioning writes "<output>/clients/<name>.json"
	// for a service with auth: identity. Its identity must be the
	// service's own. The Vault credentials stay optional: without them
	// the service neither sends nor checks JWTs.
	KeyIdentityFile = "OpenZitiIdentityFile"
	// KeyVaultAddress overrides the Vault address in the credentials file.
	KeyVaultAddress = "VaultAddress"
	// KeyVaultCA is a PEM file with the CA of Vault's TLS certificate.
	KeyVaultCA = "VaultCAFile"
	// KeyRequireJWT says whether every route but ping needs a valid
	// Vault-issued JWT: "true" or "false". Default true in plain mode (the
	// token-based design) and false in zerotrust mode, where it adds
	// defense in depth. Turning it off in plain mode runs the service
	// without any authentication, and is logged as a warning.
	//
	// In a client's SecurityOptions it says that the peer requires JWTs,
	// so the service sends its own JWT there. Default: true for plain
	// peers, false for zerotrust peers, so a service's JWT goes only where
	// it is needed (a peer that receives it could present it elsewhere
	// until it expires).
	KeyRequireJWT = "RequireJWT"
	// KeyJWTValidation is how inbound JWTs are checked: "local" (default:
	// signature against Vault's published keys, with a cache), "introspect"
	// (ask Vault for every new token, as EdgeX does) or "both".
	KeyJWTValidation = "JWTValidation"
	// KeyJWTAudience is the audience inbound JWTs must carry. Default: the
	// audience in the credentials file, else "edgex".
	KeyJWTAudience = "JWTAudience"
	// KeyTrustedRelays lists, comma-separated, the overlay identities that
	// may forward other identities' JWTs (an API gateway's identity). With
	// RequireJWT in zerotrust mode, a JWT arriving on an overlay connection
	// from any other identity must carry that identity's name.
	KeyTrustedRelays = "TrustedRelays"
)

var knownKeys = []string{KeyMode, KeyController, KeyControllerCA, KeyCredentials, KeyIdentityFile, KeyVaultAddress, KeyVaultCA,
	KeyRequireJWT, KeyJWTValidation, KeyJWTAudience, KeyTrustedRelays}

// JWT validation methods, the values of [KeyJWTValidation].
const (
	ValidateLocal      = "local"
	ValidateIntrospect = "introspect"
	ValidateBoth       = "both"
)

// requireJWT reads [KeyRequireJWT], defaulting to the mode's default.
func (o SecurityOptions) requireJWT(mode Mode) (bool, error) {
	v := o.Get(KeyRequireJWT)
	if strings.TrimSpace(v) == "" {
		return mode == ModePlain, nil
	}
	if on, ok := yesno.Parse(v); ok {
		return on, nil
	}
	return false, fmt.Errorf("%s: %q is not true or false (%s)", KeyRequireJWT, v, yesno.Words)
}

// jwtValidation reads [KeyJWTValidation], "local" by default.
func (o SecurityOptions) jwtValidation() (string, error) {
	switch v := strings.ToLower(o.Get(KeyJWTValidation)); v {
	case "":
		return ValidateLocal, nil
	case ValidateLocal, ValidateIntrospect, ValidateBoth:
		return v, nil
	}
	return "", fmt.Errorf("%s: %q is not one of local, introspect, both", KeyJWTValidation, o.Get(KeyJWTValidation))
}

// SecurityOptions is EdgeX's per-service and per-client string map of
// security settings, e.g. {"Mode": "zerotrust", "OpenZitiController": "ctrl:1280"}.
type SecurityOptions map[string]string

// Get returns the value of key, matching keys case-insensitively.
func (o SecurityOptions) Get(key string) string {
	if v, ok := o[key]; ok {
		return strings.TrimSpace(v)
	}
	for k, v := range o {
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Mode parses the Mode key.
func (o SecurityOptions) Mode() (Mode, error) { return ParseMode(o.Get(KeyMode)) }

// mode is Mode without the package's prefix.
func (o SecurityOptions) mode() (Mode, error) { return parseMode(o.Get(KeyMode)) }

// check reports keys that are not known, so a misspelt key is an error
// rather than a silently ignored setting.
func (o SecurityOptions) check(field string) error {
	var unknown []string
	seen := map[string]string{}
	for k := range o {
		c := canonicalKey(k)
		if c == "" {
			unknown = append(unknown, k)
			continue
		}
		if other, dup := seen[c]; dup {
			return fmt.Errorf("%s: keys %q and %q are the same key %s (keys are case-insensitive); keep one", field, other, k, c)
		}
		seen[c] = k
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s: unknown key %s (known keys: %s)", field, strings.Join(unknown, ", "), strings.Join(knownKeys, ", "))
	}
	return nil
}

func canonicalKey(k string) string {
	for _, known := range knownKeys {
		if strings.EqualFold(k, known) {
			return known
		}
	}
	return ""
}
