package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/endpoint"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/yamlerr"
)

// Defaults applied by [Topology.SetDefaults] to fields left empty.
const (
	DefaultVaultKey       = "ztedge"
	DefaultVaultAlgorithm = "ES384"
	DefaultAuthMount      = "ztedge-approle"
	DefaultTokenPeriod    = time.Hour
	DefaultAudience       = naming.DefaultAudience
	DefaultJWTTTL         = time.Hour
	DefaultInterceptPort  = naming.InterceptPort
	// DefaultRouterPort is the default port of an edge router's listener for SDKs.
	DefaultRouterPort = 3022
	// DefaultSecretsMount is the KV version 1 mount under which EdgeX keeps
	// service secrets: it reads them at /v1/secret/edgex/<service>/.
	DefaultSecretsMount = "secret"
	// ServicePrefix is prepended to a service name to form its Ziti service name.
	ServicePrefix = naming.ServicePrefix
	// DefaultInterceptDomain is appended to a service name to form its default intercept host.
	DefaultInterceptDomain = "." + naming.InterceptDomain
)

// ZitiServiceName returns the Ziti service name for a ztedge service: "edgex.<name>".
func ZitiServiceName(service string) string { return naming.ZitiService(service) }

// LoadFile reads a topology from a YAML file (at most
// [configfile.MaxSize] bytes), expands ${VAR} references from the
// environment, applies defaults and validates it. A file path in the file
// starting with "~/" is in the user's home folder; a relative one is
// resolved against the file's folder.
func LoadFile(path string) (_ *Topology, err error) {
	defer prefixErr(&err)
	raw, err := configfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	t, err := parse(raw)
	if err != nil {
		return nil, inTopology(path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if err := t.resolvePaths(abs); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return nil, inTopology(path, err)
	}
	return t, nil
}

// Parse decodes a topology from YAML, expanding ${VAR} references in
// values from the environment and applying defaults. The file must hold
// exactly one YAML document; unknown fields are errors. Variables are
// expanded after parsing, in scalar values only, so a value can never
// change the file's structure (a variable holding "x\nservices: ..." stays
// one string). It does not validate: call [Topology.Validate].
func Parse(raw []byte) (_ *Topology, err error) {
	defer prefixErr(&err)
	return parse(raw)
}

// parse is Parse without the package's error prefix.
func parse(raw []byte) (*Topology, error) {
	doc, err := decodeOne(raw)
	if err != nil {
		return nil, err
	}
	if err := expandEnv(doc); err != nil {
		return nil, err
	}
	t, err := decodeStrict(doc)
	if err != nil {
		return nil, err
	}
	t.SetDefaults()
	return t, nil
}

// decodeOne decodes the one YAML document raw must hold.
func decodeOne(raw []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, yamlerr.ErrSecondDocument
	}
	return &doc, nil
}

// decodeStrict decodes a document (changed after parsing) into a
// topology, refusing unknown fields, with errors naming the file's lines.
func decodeStrict(doc *yaml.Node) (*Topology, error) {
	expanded, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	strict := yaml.NewDecoder(bytes.NewReader(expanded))
	strict.KnownFields(true)
	var t Topology
	if err := strict.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, yamlerr.Rewrite(fileLines(err, doc, expanded), doc, &t, topologyWords)
	}
	return &t, nil
}

// topologyWords name the topology's types in decoding errors.
var topologyWords = map[string]string{
	"provisioning.Topology":   "the topology",
	"provisioning.Service":    "a service",
	"provisioning.Client":     "a client",
	"provisioning.DialRule":   "a dial rule",
	"provisioning.Router":     "a router",
	"provisioning.Dependency": "a dependency",
}

// lineRef is a line number in yaml's type errors: the "line N: " that
// starts each, and a duplicate key's "already defined at line N".
var lineRef = regexp.MustCompile(`^line (\d+): |already defined at line (\d+)$`)

// fileLines rewrites the line numbers of yaml's type errors, which count
// lines of expanded (the document re-encoded after expansion, without the
// file's blank lines and with its own layout), into lines of the file:
// the two documents have the same nodes, so each line of expanded maps to
// the file line of the first node on it.
func fileLines(err error, doc *yaml.Node, expanded []byte) error {
	var te *yaml.TypeError
	var out yaml.Node
	if !errors.As(err, &te) || yaml.Unmarshal(expanded, &out) != nil {
		return err
	}
	lines := map[int]int{}
	var pair func(orig, re *yaml.Node)
	pair = func(orig, re *yaml.Node) {
		if _, seen := lines[re.Line]; !seen {
			lines[re.Line] = orig.Line
		}
		for i := range min(len(orig.Content), len(re.Content)) {
			pair(orig.Content[i], re.Content[i])
		}
	}
	pair(doc, &out)
	fixed := &yaml.TypeError{Errors: make([]string, len(te.Errors))}
	for i, e := range te.Errors {
		fixed.Errors[i] = lineRef.ReplaceAllStringFunc(e, func(m string) string {
			sub := lineRef.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sub[1] + sub[2])
			if orig, ok := lines[n]; ok {
				n = orig
			}
			if sub[1] != "" {
				return fmt.Sprintf("line %d: ", n)
			}
			return fmt.Sprintf("already defined at line %d", n)
		})
	}
	return fixed
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} in the scalar values of doc (never in mapping
// keys) with the value of environment variable NAME. A reference to an
// unset variable is an error naming it. A plain scalar that held a
// reference is typed again from its new value, so "port: ${PORT}" is a
// number.
func expandEnv(doc *yaml.Node) error {
	var missing []string
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		if n.Kind == yaml.ScalarNode && !isKey && envRef.MatchString(n.Value) {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := os.LookupEnv(name)
				if !ok && !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
				return v
			})
			if n.Style == 0 {
				n.Tag = ""
			}
		}
		for i, c := range n.Content {
			walk(c, n.Kind == yaml.MappingNode && i%2 == 0)
		}
	}
	walk(doc, false)
	if len(missing) > 0 {
		return fmt.Errorf("environment variable %s is referenced but not set", strings.Join(missing, ", "))
	}
	return nil
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
	if c, err := endpoint.Controller(t.Ziti.Controller); err == nil {
		t.Ziti.Controller = c // a bad one stays as it is, for Validate to report
	}
	for i := range t.Services {
		s := &t.Services[i]
		if s.Host == "" && s.Name != "" {
			s.Host = s.Name + DefaultInterceptDomain
		}
		if s.Port == 0 {
			s.Port = DefaultInterceptPort
		}
		if s.Auth == "" {
			s.Auth = AuthJWT
		}
	}
	t.setDependencyDefaults()
	for i := range t.Routers {
		if t.Routers[i].Port == 0 {
			t.Routers[i].Port = DefaultRouterPort
		}
	}
}

// resolvePaths expands "~/" in the file paths and makes relative ones
// absolute against dir (see [configfile.Resolve]).
func (t *Topology) resolvePaths(dir string) error {
	return configfile.ResolveFields(dir,
		configfile.Field{Name: "output", Path: &t.Output},
		configfile.Field{Name: "vault.tokenFile", Path: &t.Vault.TokenFile},
		configfile.Field{Name: "vault.caCert", Path: &t.Vault.CACert},
		configfile.Field{Name: "ziti.caCert", Path: &t.Ziti.CACert},
		configfile.Field{Name: "ziti.passwordFile", Path: &t.Ziti.PasswordFile})
}
