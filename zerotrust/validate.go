package zerotrust

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/endpoint"
	"github.com/ztedge/ztedge/internal/naming"
)

// settings are a SecurityOptions map parsed into typed, checked fields.
type settings struct {
	mode          Mode
	controller    string // https base URL, "" when not given or bad
	hasController bool   // a controller was given (maybe a bad one)
	controllerCA  string
	credentials   string
	identityFile  string
	vaultAddress  string
	vaultCA       string
	requireJWT    bool
	validation    string
	audience      string
	relays        []string
}

// parse reads the options under field (e.g. "Service.SecurityOptions"),
// reporting every bad value.
func (o SecurityOptions) parse(field string) (settings, []error) {
	var errs []error
	if err := o.check(field); err != nil {
		errs = append(errs, err)
	}
	s := settings{
		controllerCA: o.Get(KeyControllerCA),
		credentials:  o.Get(KeyCredentials),
		identityFile: o.Get(KeyIdentityFile),
		vaultAddress: strings.TrimRight(o.Get(KeyVaultAddress), "/"),
		vaultCA:      o.Get(KeyVaultCA),
		audience:     o.Get(KeyJWTAudience),
	}
	var err error
	if s.mode, err = o.mode(); err != nil {
		errs = append(errs, fmt.Errorf("%s.%s: %w", field, KeyMode, err))
	}
	if c := o.Get(KeyController); c != "" {
		s.hasController = true
		if s.controller, err = controllerURL(c); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", field, KeyController, err))
		}
	}
	if s.vaultAddress != "" {
		// A path is allowed: a Vault behind a gateway at /vault publishes
		// its keys and issuer there.
		if _, err := endpoint.URL(s.vaultAddress, "https", "http"); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", field, KeyVaultAddress, err))
		}
	}
	if s.requireJWT, err = o.requireJWT(s.mode); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", field, err))
	}
	if s.validation, err = o.jwtValidation(); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", field, err))
	}
	if s.vaultCA == "" {
		// The Vault CA provisioning wrote next to the credentials, if any.
		s.vaultCA = credentials.DefaultVaultCA(s.credentials)
	}
	for _, r := range strings.Split(o.Get(KeyTrustedRelays), ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !naming.ValidName(r) {
			errs = append(errs, fmt.Errorf("%s.%s: %q is not an identity name: %s", field, KeyTrustedRelays, r, naming.NameRule))
		}
		s.relays = append(s.relays, r)
	}
	return s, errs
}

// validate checks the configuration and fills in defaults. Every error
// names the setting it is about. A zerotrust service without a controller
// or credentials is an error, never a fallback to plain TCP.
func (c *Config) validate() error {
	var errs []error
	s := &c.Service
	sec, perrs := s.SecurityOptions.parse("Service.SecurityOptions")
	errs = append(errs, perrs...)
	if s.PingPath == "" {
		s.PingPath = DefaultPingPath
	}
	if !strings.HasPrefix(s.PingPath, "/") || strings.ContainsAny(s.PingPath, "?#%") {
		errs = append(errs, fmt.Errorf("Service.PingPath: %q must start with / and hold no ?, # or %%", s.PingPath))
	}
	if s.MetricsPath != "" && (!strings.HasPrefix(s.MetricsPath, "/") || strings.ContainsAny(s.MetricsPath, "?#%") || s.MetricsPath == s.PingPath) {
		errs = append(errs, fmt.Errorf("Service.MetricsPath: %q must start with /, hold no ?, # or %%, and differ from the ping path", s.MetricsPath))
	}
	if s.MetricsPath != "" && s.HealthPort == 0 {
		errs = append(errs, errors.New("Service.MetricsPath: metrics are served on the health port, but HealthPort is 0"))
	}
	if _, err := parseLevel(s.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("Service.LogLevel: %w", err))
	}
	if s.HealthHost == "" {
		s.HealthHost = "127.0.0.1"
	} else if h, err := endpoint.Host(s.HealthHost); err != nil {
		errs = append(errs, fmt.Errorf("Service.HealthHost: %w", err))
	} else {
		s.HealthHost = h
	}
	if s.HealthPort < 0 || s.HealthPort > 65535 {
		errs = append(errs, fmt.Errorf("Service.HealthPort: %d is out of range (0 turns the health server off)", s.HealthPort))
	}
	switch sec.mode {
	case ModeZeroTrust:
		if s.Name == "" {
			errs = append(errs, errors.New("Service.Name: missing (zerotrust mode binds the Ziti service edgex.<Name>)"))
		} else if !naming.ValidName(s.Name) {
			errs = append(errs, fmt.Errorf("Service.Name: %q is not a service name (zerotrust mode binds the Ziti service edgex.<Name>): %s", s.Name, naming.NameRule))
		}
		errs = append(errs, needOverlay("Service.SecurityOptions", sec)...)
	case ModePlain:
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("Service.Port: %d is out of range (1 to 65535)", s.Port))
		}
		if s.Host == "" {
			s.Host = "127.0.0.1"
		} else if h, err := endpoint.Host(s.Host); err != nil {
			errs = append(errs, fmt.Errorf("Service.Host: %w", err))
		} else {
			s.Host = h
		}
	}
	if sec.requireJWT && sec.credentials == "" && sec.vaultAddress == "" {
		errs = append(errs, fmt.Errorf("Service.SecurityOptions: JWTs are required (%s is true by default in plain mode) but neither %s nor %s says where Vault is; set one, or set %s to false to run without authentication",
			KeyRequireJWT, KeyCredentials, KeyVaultAddress, KeyRequireJWT))
	}
	if sec.identityFile != "" && sec.mode != ModeZeroTrust {
		errs = append(errs, fmt.Errorf("Service.SecurityOptions.%s: set, but %s is not %s", KeyIdentityFile, KeyMode, ModeZeroTrust))
	}
	if sec.requireJWT && sec.validation != ValidateLocal && sec.credentials == "" {
		errs = append(errs, fmt.Errorf("Service.SecurityOptions.%s: %s needs the service's Vault credentials (%s) to ask Vault",
			KeyJWTValidation, sec.validation, KeyCredentials))
	}
	s.sec = sec
	errs = append(errs, c.validateClients()...)
	return errors.Join(errs...)
}

// validateClients checks the clients and fills in their defaults.
func (c *Config) validateClients() []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Clients)) {
		cl := c.Clients[name]
		f := "Clients." + name
		sec, perrs := cl.SecurityOptions.parse(f + ".SecurityOptions")
		errs = append(errs, perrs...)
		if cl.Protocol == "" {
			cl.Protocol = "http"
		}
		if cl.Protocol != "http" && cl.Protocol != "tcp" {
			errs = append(errs, fmt.Errorf("%s.Protocol: %q is not supported (use http, or tcp for a dependency reached with Service.Dial)", f, cl.Protocol))
		}
		switch sec.mode {
		case ModeZeroTrust:
			if cl.Host == "" {
				if !naming.ValidName(name) {
					errs = append(errs, fmt.Errorf("%s: %q names no service (its intercept address would be %s): %s", f, name, naming.InterceptHost(name), naming.NameRule))
				}
				cl.Host = naming.InterceptHost(name)
			}
			if cl.Port == 0 {
				cl.Port = naming.InterceptPort
			}
			// A zerotrust client uses the process's one Ziti context: the
			// service's own when it is in zerotrust mode.
			if c.Service.sec.mode != ModeZeroTrust {
				errs = append(errs, needOverlay(f+".SecurityOptions", sec)...)
			}
		case ModePlain:
			if cl.Host == "" {
				errs = append(errs, fmt.Errorf("%s.Host: missing", f))
			}
		}
		if cl.Host != "" {
			if h, err := endpoint.Host(cl.Host); err != nil {
				errs = append(errs, fmt.Errorf("%s.Host: %w", f, err))
			} else {
				cl.Host = h
			}
		}
		if cl.Port < 1 || cl.Port > 65535 {
			errs = append(errs, fmt.Errorf("%s.Port: %d is out of range (1 to 65535)", f, cl.Port))
		}
		cl.mode, cl.sendJWT = sec.mode, sec.requireJWT
		if cl.sendJWT && c.Service.sec.identityFile != "" && c.Service.sec.credentials == "" {
			errs = append(errs, fmt.Errorf("%s.SecurityOptions.%s: the peer requires JWTs, but the service joins with %s and has no Vault credentials (%s) to get one",
				f, KeyRequireJWT, KeyIdentityFile, KeyCredentials))
		}
		c.Clients[name] = cl
	}
	return errs
}

// needOverlay reports what a zerotrust overlay lacks in sec.
func needOverlay(field string, sec settings) []error {
	var errs []error
	if sec.identityFile != "" {
		return nil // the identity file names the controller and holds the credentials
	}
	if !sec.hasController {
		errs = append(errs, fmt.Errorf("%s.%s: missing (zerotrust mode needs the Ziti controller)", field, KeyController))
	}
	if sec.credentials == "" {
		errs = append(errs, fmt.Errorf("%s.%s: missing (zerotrust mode needs the service's Vault credentials, or an enrolled identity in %s)", field, KeyCredentials, KeyIdentityFile))
	}
	return errs
}

// controllerURL turns a controller given as host:port or URL into its
// https base URL, https://host:port (a path is dropped).
func controllerURL(s string) (string, error) { return endpoint.Controller(s) }

// Mode returns the service's security mode (plain when the setting is
// unreadable; Validate reports that).
func (s ServiceConfig) Mode() Mode {
	m, _ := s.SecurityOptions.Mode()
	return m
}

// RequireJWT reports whether every route but ping needs a valid JWT. An
// unreadable setting counts as true: it fails closed.
func (s ServiceConfig) RequireJWT() bool {
	need, err := s.SecurityOptions.requireJWT(s.Mode())
	return need || err != nil
}

// ZitiService is the Ziti service the service binds: "edgex.<Name>".
func (s ServiceConfig) ZitiService() string { return naming.ZitiService(s.Name) }

// Mode returns the client's security mode (plain when the setting is
// unreadable; Validate reports that).
func (c ClientConfig) Mode() Mode {
	m, _ := c.SecurityOptions.Mode()
	return m
}

// BaseURL is the URL requests to this peer start with, e.g.
// "http://core-data.edgex.ziti:80".
func (c ClientConfig) BaseURL() string {
	return c.Protocol + "://" + net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}
