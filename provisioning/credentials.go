package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// VaultCredentials is what a service needs to log in to Vault and fetch its identity token.
//
// The file holding it is written by the provisioner with mode 0600 in a
// folder with mode 0700; it contains an AppRole secret_id and must be kept
// private to the service.
type VaultCredentials struct {
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
}

// maxCredentialsSize bounds how much of a credentials file is read.
const maxCredentialsSize = 64 << 10

// CredentialsPath returns where the Vault credentials of a service are
// written: <output>/services/<service>/credentials.json.
func CredentialsPath(output, service string) string {
	return filepath.Join(output, "services", service, "credentials.json")
}

// ReadVaultCredentials reads and checks a credentials file written by the
// provisioner. It refuses a file that group or others may read or write,
// a file with unknown or missing fields, and a malformed Vault address;
// errors name the file and the field at fault. The error never contains
// the secret_id.
func ReadVaultCredentials(path string) (*VaultCredentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault credentials file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault credentials file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("vault credentials file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("vault credentials file %s has mode %04o: it holds a secret_id and must not be readable or writable by group or others (run chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialsSize+1))
	if err != nil {
		return nil, fmt.Errorf("vault credentials file %s: %w", path, err)
	}
	if len(data) > maxCredentialsSize {
		return nil, fmt.Errorf("vault credentials file %s is larger than %d bytes", path, maxCredentialsSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c VaultCredentials
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("vault credentials file %s is not valid: %s", path, describeJSONError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("vault credentials file %s is not valid: extra data after the JSON object", path)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("vault credentials file %s: %w", path, err)
	}
	return &c, nil
}

// describeJSONError turns a decoding error into a message that names the
// field or position at fault without quoting values from the file (which
// may contain the secret_id).
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
		// The message is `json: unknown field "name"`: it quotes the
		// field's name, not its value.
		return strings.TrimPrefix(err.Error(), "json: ")
	default:
		return "not a JSON object"
	}
}

// validate checks that every field is present and that the Vault address
// is an http(s) URL.
func (c *VaultCredentials) validate() error {
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

// writeVaultCredentials writes c to path atomically (a temporary file in the
// same folder, synced, then renamed) with mode 0600, creating the parent
// folders with mode 0700. The service folder and its "services" parent are
// set to 0700 even when they already exist.
func writeVaultCredentials(path string, c *VaultCredentials) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("refusing to write vault credentials file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating folder for vault credentials file %s: %w", path, err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("setting mode 0700 on folder %s: %w", d, err)
		}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding vault credentials for %s: %w", path, err)
	}
	data = append(data, '\n')

	tmp, err := os.CreateTemp(dir, ".credentials-*.tmp")
	if err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("writing vault credentials file %s: %w", path, err)
	}
	ok = true
	// Make the rename durable; not every platform can sync a folder.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
