package zerotrust

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/yamlerr"
)

// DefaultPingPath is the path of the health check, as in EdgeX's v3 API.
const DefaultPingPath = "/api/v3/ping"

// Config is a service's configuration in EdgeX's shape: the service itself
// and the peers it calls.
//
//	Service:
//	  Name: core-data
//	  Port: 59880
//	  HealthPort: 59980
//	  SecurityOptions:
//	    Mode: zerotrust
//	    OpenZitiController: 127.0.0.1:1280
//	    VaultCredentialsFile: /run/ztedge/core-data/credentials.json
//	Clients:
//	  core-metadata:
//	    SecurityOptions:
//	      Mode: zerotrust
type Config struct {
	Service ServiceConfig           `yaml:"Service"`
	Clients map[string]ClientConfig `yaml:"Clients"`
}

// ServiceConfig describes the service itself.
type ServiceConfig struct {
	// Name is the service's name (EdgeX service key), e.g. core-data. In
	// zerotrust mode it binds the Ziti service "edgex.<Name>".
	Name string `yaml:"Name"`
	// Host and Port are the TCP address served in plain mode. They are
	// never opened in zerotrust mode.
	Host string `yaml:"Host"`
	Port int    `yaml:"Port"`
	// HealthHost and HealthPort are the underlay address of the separate
	// health server that answers only the ping path. HealthPort 0 turns it
	// off. HealthHost defaults to 127.0.0.1.
	HealthHost string `yaml:"HealthHost"`
	HealthPort int    `yaml:"HealthPort"`
	// PingPath is the health check path. Default /api/v3/ping. On the
	// health port, GET <PingPath>?ready answers 200 when the service can
	// serve (bound, with a valid JWT) and 503 with the reason otherwise.
	PingPath string `yaml:"PingPath"`
	// MetricsPath, when set (e.g. /metrics), serves the service's
	// Prometheus metrics on the health port at that path. Off by default.
	MetricsPath string `yaml:"MetricsPath"`
	// LogLevel is the lowest level logged: debug, info (default), warn or
	// error.
	LogLevel string `yaml:"LogLevel"`
	// SecurityOptions select the mode and say how to reach Vault and the controller.
	SecurityOptions SecurityOptions `yaml:"SecurityOptions"`

	sec settings // parsed by Validate
}

// ClientConfig describes one peer the service calls, keyed by the peer's
// service name in [Config.Clients].
type ClientConfig struct {
	// Protocol is http (default), or tcp for a dependency that is not
	// Ziti-aware (a database, a broker) reached with [Service.Dial].
	Protocol string `yaml:"Protocol"`
	// Host and Port address the peer. In zerotrust mode they default to
	// the peer's intercept address, "<name>.edgex.ziti" and 80.
	Host string `yaml:"Host"`
	Port int    `yaml:"Port"`
	// SecurityOptions select the mode used to reach this peer.
	SecurityOptions SecurityOptions `yaml:"SecurityOptions"`

	mode    Mode // parsed by Validate
	sendJWT bool // the peer requires JWTs: send the service's own
}

// errPrefix starts the errors of the package's exported functions.
const errPrefix = "zerotrust: "

// LoadConfig reads a configuration file (YAML, at most 4 MiB), applies
// environment overrides in EdgeX's style (see [Config.ApplyEnv]), fills in
// defaults and validates it. A file path in SecurityOptions (OpenZitiCAFile,
// VaultCredentialsFile, OpenZitiIdentityFile, VaultCAFile) starting with
// "~/" is in the user's home folder; a relative one is resolved against
// the file's folder.
func LoadConfig(path string) (*Config, error) {
	raw, err := configfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: reading the configuration: %w", err)
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: configuration %s: %w", path, err)
	}
	if err := cfg.applyEnv(os.Environ()); err != nil {
		return nil, fmt.Errorf("zerotrust: configuration %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %w", err)
	}
	if err := cfg.resolvePaths(dir); err != nil {
		return nil, fmt.Errorf("zerotrust: configuration %s: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("zerotrust: configuration %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML. Unknown fields are errors.
func ParseConfig(raw []byte) (*Config, error) {
	cfg, err := parseConfig(raw)
	return cfg, errprefix.Add(errPrefix, err)
}

// configWords name the configuration's types in decoding errors.
var configWords = map[string]string{
	"zerotrust.Config":       "the configuration",
	"zerotrust.ClientConfig": "a client",
}

// parseConfig is ParseConfig without the package's prefix.
func parseConfig(raw []byte) (*Config, error) {
	var cfg Config
	if err := yamlerr.Decode(raw, &cfg, configWords); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks the configuration and fills in defaults. Every error
// names the setting it is about. A zerotrust service without a controller
// or credentials is an error, never a fallback to plain TCP.
func (c *Config) Validate() error { return errprefix.Add(errPrefix, c.validate()) }

// ControllerURL turns a controller given as host:port or URL into its
// https base URL.
func ControllerURL(s string) (string, error) {
	u, err := controllerURL(s)
	return u, errprefix.Add(errPrefix, err)
}

var envSafe = regexp.MustCompile(`[^A-Z0-9]`)

// envName turns a configuration path into EdgeX's environment variable
// name: upper case, with every other character an underscore
// ("Clients", "core-metadata", "Host" -> CLIENTS_CORE_METADATA_HOST).
func envName(parts ...string) string {
	for i, p := range parts {
		parts[i] = envSafe.ReplaceAllString(strings.ToUpper(p), "_")
	}
	return strings.Join(parts, "_")
}

// ApplyEnv overrides settings from environment variables ("NAME=value"
// entries, as os.Environ returns), in EdgeX's style:
//
//	SERVICE_NAME, SERVICE_HOST, SERVICE_PORT, SERVICE_HEALTHHOST,
//	SERVICE_HEALTHPORT, SERVICE_PINGPATH, SERVICE_METRICSPATH,
//	SERVICE_LOGLEVEL, SERVICE_SECURITYOPTIONS_<KEY>
//	CLIENTS_<NAME>_PROTOCOL, CLIENTS_<NAME>_HOST, CLIENTS_<NAME>_PORT,
//	CLIENTS_<NAME>_SECURITYOPTIONS_<KEY>
//
// where <KEY> is a [SecurityOptions] key in upper case (e.g. MODE,
// OPENZITICONTROLLER) and <NAME> a client name in upper case with
// hyphens as underscores. Only clients present in the file can be
// overridden.
func (c *Config) ApplyEnv(environ []string) error {
	return errprefix.Add(errPrefix, c.applyEnv(environ))
}

// applyEnv is ApplyEnv without the package's prefix.
func (c *Config) applyEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var errs []error
	str := func(dst *string, name string) {
		if v, ok := env[name]; ok {
			*dst = v
		}
	}
	num := func(dst *int, name string) {
		if v, ok := env[name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s: %q is not a number", name, v))
				return
			}
			*dst = n
		}
	}
	opts := func(dst *SecurityOptions, prefix string) {
		// A misspelt key must not slip through, as in the file.
		head := envName(prefix, "SecurityOptions") + "_"
		for _, name := range slices.Sorted(maps.Keys(env)) {
			key, ok := strings.CutPrefix(name, head)
			if ok && !slices.ContainsFunc(knownKeys, func(k string) bool { return envName(k) == key }) {
				errs = append(errs, fmt.Errorf("environment variable %s: unknown SecurityOptions key %s (known: %s)", name, key, strings.Join(knownKeys, ", ")))
			}
		}
		for _, k := range knownKeys {
			if v, ok := env[envName(prefix, "SecurityOptions", k)]; ok {
				if *dst == nil {
					*dst = SecurityOptions{}
				}
				for existing := range *dst {
					if strings.EqualFold(existing, k) {
						delete(*dst, existing)
					}
				}
				(*dst)[k] = v
			}
		}
	}
	s := &c.Service
	str(&s.Name, "SERVICE_NAME")
	str(&s.Host, "SERVICE_HOST")
	num(&s.Port, "SERVICE_PORT")
	str(&s.HealthHost, "SERVICE_HEALTHHOST")
	num(&s.HealthPort, "SERVICE_HEALTHPORT")
	str(&s.PingPath, "SERVICE_PINGPATH")
	str(&s.MetricsPath, "SERVICE_METRICSPATH")
	str(&s.LogLevel, "SERVICE_LOGLEVEL")
	opts(&s.SecurityOptions, "Service")
	for name, cl := range c.Clients {
		str(&cl.Protocol, envName("Clients", name, "Protocol"))
		str(&cl.Host, envName("Clients", name, "Host"))
		num(&cl.Port, envName("Clients", name, "Port"))
		opts(&cl.SecurityOptions, "Clients_"+name)
		c.Clients[name] = cl
	}
	return errors.Join(errs...)
}

// pathKeys are the [SecurityOptions] keys that hold file paths.
var pathKeys = []string{KeyControllerCA, KeyCredentials, KeyIdentityFile, KeyVaultCA}

// resolvePaths expands "~/" in the file paths of the SecurityOptions and
// makes relative ones absolute against dir (see [configfile.Resolve]).
func (c *Config) resolvePaths(dir string) error {
	fix := func(o SecurityOptions, section string) error {
		for _, key := range pathKeys {
			for k, v := range o {
				if !strings.EqualFold(k, key) {
					continue
				}
				p, err := configfile.Resolve(dir, v)
				if err != nil {
					return fmt.Errorf("%s.SecurityOptions.%s: %w", section, k, err)
				}
				o[k] = p
			}
		}
		return nil
	}
	errs := []error{fix(c.Service.SecurityOptions, "Service")}
	for _, name := range slices.Sorted(maps.Keys(c.Clients)) {
		errs = append(errs, fix(c.Clients[name].SecurityOptions, "Clients."+name))
	}
	return errors.Join(errs...)
}
