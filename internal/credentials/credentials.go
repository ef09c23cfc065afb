// Package credentials is the format of the credentials file that
// provisioning writes for each service and the service reads at start: the
// AppRole login to Vault and the OIDC role of its identity token.
package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/ztedge/ztedge/internal/secretfile"
)

// Service is what a service needs to log in to Vault and fetch its identity
// token. Its file holds an AppRole secret_id: mode 0600, folder 0700.
type Service struct {
	// Service is the service name.
	Service string `json:"service"`
	// VaultAddress is Vault's URL, e.g. http://127.0.0.1:8200.
	VaultAddress string `json:"vaultAddress"`
	// AuthMount is the path of the AppRole auth method, e.g. ztedge-approle.
	AuthMount string `json:"authMount"`
	// RoleID is the AppRole role_id of the service's role.
	RoleID string `json:"roleId"`
	// SecretID is the AppRole secret_id. Never log it.
	SecretID string `json:"secretId"`
	// OIDCRole is the Vault OIDC role; the token path is identity/oidc/token/<OIDCRole>.
	OIDCRole string `json:"oidcRole"`
	// Audience is the "aud" claim the identity token carries.
	Audience string `json:"audience"`
	// VaultZitiService, when set, is the Ziti service that publishes Vault
	// on the overlay: once the service has joined the overlay it reaches
	// Vault through it (TLS, when Vault uses it, stays end to end).
	VaultZitiService string `json:"vaultZitiService,omitempty"`
}

// maxSize bounds how much of a credentials file is read.
const maxSize = 64 << 10

// what names the file in errors.
const what = "vault credentials file"

// Path returns where the credentials of a service are written:
// <output>/services/<service>/credentials.json.
func Path(output, service string) string {
	return filepath.Join(output, "services", service, "credentials.json")
}

// IdentityPath returns where the enrolled Ziti identity file of a client
// (or of a service that joins with an identity) is written:
// <output>/clients/<name>.json.
func IdentityPath(output, name string) string {
	return filepath.Join(output, "clients", name+".json")
}

// RouterTokenPath returns where the one-time enrolment token (a JWT) of an
// edge router is written: <output>/routers/<name>.jwt.
func RouterTokenPath(output, name string) string {
	return filepath.Join(output, "routers", name+".jwt")
}

// Read reads and checks a credentials file. It refuses a file that group or
// others may read or write, unknown or missing fields, and a malformed
// Vault address; errors name the file and the field at fault and never
// contain the secret_id.
func Read(path string) (*Service, error) {
	data, err := secretfile.Read(path, what, maxSize)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Service
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s %s is not valid: %s", what, path, describeJSONError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%s %s is not valid: extra data after the JSON object", what, path)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return &c, nil
}

// Write writes c to path (see [secretfile.Write]); the "services" folder
// above the service's folder is kept at mode 0700 too.
func Write(path string, c *Service) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("refusing to write %s %s: %w", what, path, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", what, path, err)
	}
	if err := secretfile.Write(path, append(data, '\n')); err != nil {
		return err
	}
	return secretfile.KeepPrivateDirs(filepath.Dir(path), filepath.Dir(filepath.Dir(path)))
}

// describeJSONError names the field or position at fault without quoting
// values from the file, which may hold the secret_id.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("JSON syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s, not a JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the file is empty or truncated"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// `json: unknown field "name"` quotes the field's name, not a value.
		return strings.TrimPrefix(err.Error(), "json: ")
	default:
		return "not a JSON object"
	}
}

// Validate checks that every field is present and that the Vault address
// is an http(s) URL.
func (c *Service) Validate() error {
	fields := []struct{ name, value string }{
		{"service", c.Service},
		{"vaultAddress", c.VaultAddress},
		{"authMount", c.AuthMount},
		{"roleId", c.RoleID},
		{"secretId", c.SecretID},
		{"oidcRole", c.OIDCRole},
		{"audience", c.Audience},
	}
	for _, f := range fields {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("field %q is missing or empty", f.name)
		}
	}
	u, err := url.Parse(c.VaultAddress)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("field %q must be an http or https URL such as http://127.0.0.1:8200, got %q", "vaultAddress", c.VaultAddress)
	}
	if strings.Trim(c.AuthMount, "/") != c.AuthMount {
		return fmt.Errorf("field %q must not start or end with a slash, got %q", "authMount", c.AuthMount)
	}
	return nil
}
