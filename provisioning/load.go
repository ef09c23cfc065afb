package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied by [Topology.SetDefaults] to fields left empty.
const (
	DefaultVaultKey       = "ztedge"
	DefaultVaultAlgorithm = "ES384"
	DefaultAuthMount      = "ztedge-approle"
	DefaultTokenPeriod    = time.Hour
	DefaultAudience       = "edgex"
	DefaultJWTTTL         = time.Hour
	DefaultInterceptPort  = 80
	// DefaultSecretsMount is the KV version 1 mount under which EdgeX keeps
	// service secrets: it reads them at /v1/secret/edgex/<service>/.
	DefaultSecretsMount = "secret"
	// ServicePrefix is prepended to a service name to form its Ziti service name.
	ServicePrefix = "edgex."
	// DefaultInterceptDomain is appended to a service name to form its default intercept host.
	DefaultInterceptDomain = ".edgex.ziti"
)

// ZitiServiceName returns the Ziti service name for a ztedge service: "edgex.<name>".
func ZitiServiceName(service string) string { return ServicePrefix + service }

// LoadFile reads a topology from a YAML file, expands ${VAR} references
// from the environment, applies defaults and validates it. Relative paths
// in the file are resolved against the file's folder.
func LoadFile(path string) (*Topology, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	t, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	t.resolvePaths(abs)
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}

// Parse decodes a topology from YAML, expanding ${VAR} references from the
// environment and applying defaults. Unknown fields are errors. It does not
// validate: call [Topology.Validate].
func Parse(raw []byte) (*Topology, error) {
	expanded, err := expandEnv(raw)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	var t Topology
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	t.SetDefaults()
	return &t, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the value of environment variable NAME.
// A reference to an unset variable is an error naming it.
func expandEnv(raw []byte) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		name := string(envRef.FindSubmatch(m)[1])
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s is referenced but not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// SetDefaults fills in every field left empty with its documented default.
func (t *Topology) SetDefaults() {
	if t.Vault.Key == "" {
		t.Vault.Key = DefaultVaultKey
	}
	if t.Vault.Algorithm == "" {
		t.Vault.Algorithm = DefaultVaultAlgorithm
	}
	if t.Vault.AuthMount == "" {
		t.Vault.AuthMount = DefaultAuthMount
	}
	t.Vault.AuthMount = strings.Trim(t.Vault.AuthMount, "/")
	if t.Vault.SecretsMount == "" {
		t.Vault.SecretsMount = DefaultSecretsMount
	}
	t.Vault.SecretsMount = strings.Trim(t.Vault.SecretsMount, "/")
	if t.Vault.TokenPeriod == 0 {
		t.Vault.TokenPeriod = Duration(DefaultTokenPeriod)
	}
	if t.JWT.Audience == "" {
		t.JWT.Audience = DefaultAudience
	}
	if t.JWT.TTL == 0 {
		t.JWT.TTL = Duration(DefaultJWTTTL)
	}
	if len(t.Ziti.EdgeRouterRoles) == 0 {
		t.Ziti.EdgeRouterRoles = []string{"#all"}
	}
	t.Vault.Address = strings.TrimRight(t.Vault.Address, "/")
	if c := t.Ziti.Controller; c != "" && !strings.Contains(c, "://") {
		t.Ziti.Controller = "https://" + c
	}
	t.Ziti.Controller = strings.TrimRight(t.Ziti.Controller, "/")
	for i := range t.Services {
		s := &t.Services[i]
		if s.Host == "" && s.Name != "" {
			s.Host = s.Name + DefaultInterceptDomain
		}
		if s.Port == 0 {
			s.Port = DefaultInterceptPort
		}
	}
}

// resolvePaths makes relative file paths absolute against dir.
func (t *Topology) resolvePaths(dir string) {
	for _, p := range []*string{&t.Output, &t.Vault.TokenFile, &t.Vault.CACert, &t.Ziti.CACert, &t.Ziti.PasswordFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
