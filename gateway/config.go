// Package gateway runs an NGINX API gateway in front of ztedge services:
// one TLS 1.3-only port, one route prefix per service ("/core-data/..." is
// proxied to core-data's upstream with the prefix stripped), and every
// route except each service's ping route guarded by NGINX's auth_request,
// which asks proxy-auth (cmd/proxy-auth, built on [NewAuthHandler]) whether
// the caller's Vault-issued JWT is valid. The caller's name from the JWT is
// passed upstream in the X-Ztedge-Caller header; a client can never set
// that header itself.
//
// A service in token-based mode is an http(s) upstream. A service in
// zerotrust mode ("zerotrust:<service>", see [ZeroTrustPrefix]) is reached
// over the Ziti overlay as the gateway's own identity, through a loopback
// forwarder that the gateway/overlay package opens (this package links no
// Ziti code, so that proxy-auth does not either).
//
// [Render] turns a [Config] into nginx.conf, [EnsureCertificate] makes a
// self-signed certificate when none is given, and [Start] checks the
// configuration with "nginx -t" and runs nginx as a child process in a
// private prefix (the state folder), until [Process.Stop].
//
// The package also manages human users in Vault ([Users]): a userpass login
// and an OIDC role per user, so that people can get JWTs for the gateway.
package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/yamlerr"
)

// errPrefix starts the errors of the package's exported functions.
const errPrefix = "gateway: "

// prefixErr puts errPrefix before *err unless it is there already.
func prefixErr(err *error) { errprefix.Set(errPrefix, err) }

// Defaults applied to empty [Config] fields.
const (
	// DefaultListen is the gateway's default TLS address.
	DefaultListen = "127.0.0.1:8443"
	// DefaultAuthURL is the default address of proxy-auth's auth endpoint.
	DefaultAuthURL = "http://127.0.0.1:59842/auth"
	// DefaultPingPath is the EdgeX ping path every service answers without a token.
	DefaultPingPath = "/api/v3/ping"
	// CallerHeader is the header that carries the authenticated caller's
	// name from proxy-auth to NGINX and from NGINX to the upstream service.
	CallerHeader = "X-Ztedge-Caller"
)

// Config describes one gateway: a TLS 1.3-only port in front of a set of
// services. The YAML field names are those in parentheses.
type Config struct {
	// Listen is the host:port NGINX listens on with TLS (listen).
	// Default 127.0.0.1:8443.
	Listen string `yaml:"listen"`
	// Services maps each service name (lower-case letters, digits and
	// hyphens, as in topologies) to its upstream (services). At least one.
	// An upstream is either a base URL of a service in token-based mode,
	// e.g. "core-data": "http://127.0.0.1:59880", or "zerotrust:<service>"
	// for a service in zerotrust mode, reached over the Ziti overlay as the
	// gateway's identity (see [ZeroTrustPrefix] and ZitiIdentity).
	Services map[string]string `yaml:"services"`
	// ZitiIdentity is the gateway's own enrolled Ziti identity file
	// (zitiIdentity): a client of the topology, with dial rules to the
	// zerotrust services it fronts. Required when a service is zerotrust.
	ZitiIdentity string `yaml:"zitiIdentity"`
	// OverlayAddrs are the loopback addresses on which the gateway's
	// overlay forwarder accepts NGINX's connections, one per zerotrust
	// route. They are not read from YAML: the gateway/overlay package
	// opens the forwarder on free ports and fills them in before [Start].
	OverlayAddrs map[string]netip.AddrPort `yaml:"-"`
	// AuthURL is the URL of proxy-auth's auth endpoint (authURL). A URL
	// without a path gets "/auth". Default http://127.0.0.1:59842/auth.
	AuthURL string `yaml:"authURL"`
	// CertFile and KeyFile are the gateway's PEM certificate (chain) and
	// private key (certFile, keyFile). Give both or neither: with neither,
	// a self-signed certificate for localhost and 127.0.0.1 is generated in
	// StateDir/tls on first start and reused afterwards.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// UpstreamCAFile is a PEM bundle NGINX uses to verify https upstreams
	// (upstreamCAFile). Required when any upstream uses https.
	UpstreamCAFile string `yaml:"upstreamCAFile"`
	// StateDir is NGINX's private prefix: nginx.conf, the pid file, logs,
	// temporary files and the generated certificate live there (stateDir).
	// Required.
	StateDir string `yaml:"stateDir"`
	// PingPath is the services' ping path, reachable without a token as
	// /<service><PingPath> (pingPath). Default /api/v3/ping.
	PingPath string `yaml:"pingPath"`
	// User is the user NGINX's worker processes run as when NGINX is
	// started as root (user). Empty leaves NGINX's default (nobody).
	User string `yaml:"user"`
	// Nginx is the nginx binary (nginx). Default: nginx from PATH, else
	// /usr/sbin/nginx.
	Nginx string `yaml:"nginx"`
}

// Names and modes of the files under StateDir.
const (
	confName      = "nginx.conf"
	pidName       = "nginx.pid"
	lockName      = "nginx.lock"
	logsDirName   = "logs"
	tempDirName   = "temp"
	tlsDirName    = "tls"
	errorLogName  = "error.log"
	accessLogName = "access.log"
	stderrName    = "nginx.stderr"
	certName      = "gateway.crt"
	keyName       = "gateway.key"
)

// ConfigFile returns the path of the rendered nginx.conf under StateDir.
func (c *Config) ConfigFile() string { return filepath.Join(c.StateDir, confName) }

// ErrorLog returns the path of NGINX's error log under StateDir.
func (c *Config) ErrorLog() string { return filepath.Join(c.StateDir, logsDirName, errorLogName) }

// AccessLog returns the path of NGINX's access log under StateDir.
func (c *Config) AccessLog() string { return filepath.Join(c.StateDir, logsDirName, accessLogName) }

// PIDFile returns the path of NGINX's pid file under StateDir.
func (c *Config) PIDFile() string { return filepath.Join(c.StateDir, pidName) }

// LoadConfig reads a gateway configuration from a YAML file (at most
// 4 MiB). Unknown fields are errors. A StateDir, certificate, CA or
// ZitiIdentity path starting with "~/" is in the user's home folder; a
// relative one is resolved against the file's folder. Defaults are applied
// and the result is validated.
func LoadConfig(path string) (_ *Config, err error) {
	defer prefixErr(&err)
	raw, err := configfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	var c Config
	if err := yamlerr.Decode(raw, &c, nil); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if err := configfile.ResolveFields(base,
		configfile.Field{Name: "stateDir", Path: &c.StateDir},
		configfile.Field{Name: "certFile", Path: &c.CertFile},
		configfile.Field{Name: "keyFile", Path: &c.KeyFile},
		configfile.Field{Name: "upstreamCAFile", Path: &c.UpstreamCAFile},
		configfile.Field{Name: "zitiIdentity", Path: &c.ZitiIdentity}); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	c.SetDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return &c, nil
}

// SetDefaults fills the empty fields that have defaults: Listen, AuthURL
// (and "/auth" when it has no path), PingPath, and CertFile/KeyFile under
// StateDir/tls when both are empty.
func (c *Config) SetDefaults() {
	if strings.TrimSpace(c.Listen) == "" {
		c.Listen = DefaultListen
	}
	if strings.TrimSpace(c.AuthURL) == "" {
		c.AuthURL = DefaultAuthURL
	} else if u, err := url.Parse(c.AuthURL); err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = "/auth"
		c.AuthURL = u.String()
	}
	if c.PingPath == "" {
		c.PingPath = DefaultPingPath
	}
	if c.CertFile == "" && c.KeyFile == "" && c.StateDir != "" {
		c.CertFile = filepath.Join(c.StateDir, tlsDirName, certName)
		c.KeyFile = filepath.Join(c.StateDir, tlsDirName, keyName)
	}
}

// GeneratedCertificate reports whether CertFile and KeyFile are the
// default self-signed pair under StateDir (so [Start] may create them).
func (c *Config) GeneratedCertificate() bool {
	return c.StateDir != "" &&
		c.CertFile == filepath.Join(c.StateDir, tlsDirName, certName) &&
		c.KeyFile == filepath.Join(c.StateDir, tlsDirName, keyName)
}

var (
	// pingPathRE allows plain absolute paths only.
	pingPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)
	// workerUserRE is a conservative rule for Unix user names.
	workerUserRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
)

// unsafeConfChars are characters that could change the meaning of an NGINX
// configuration file if they appeared inside a value: quotes, escapes,
// variables, directive and block separators, and white space.
const unsafeConfChars = "\"'\\$;{}#` \t\r\n\v\f"

// safeValue reports what is wrong with v as a value written into
// nginx.conf ("" when nothing).
func safeValue(v string) string {
	if i := strings.IndexAny(v, unsafeConfChars); i >= 0 {
		return fmt.Sprintf("contains %q, which is not allowed in a gateway configuration value", v[i])
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}

// Validate checks the configuration after [Config.SetDefaults] and reports
// every problem, each naming its field.
func (c *Config) Validate() (err error) {
	defer prefixErr(&err)
	return c.validate()
}

// validate is Validate without the package's prefix.
func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.StateDir == "" {
		add("stateDir is empty: set it to a folder for nginx.conf, logs, the pid file and temporary files")
	} else if !filepath.IsAbs(c.StateDir) {
		add("stateDir %q must be an absolute path", c.StateDir)
	} else if p := safeValue(c.StateDir); p != "" {
		add("stateDir %q %s", c.StateDir, p)
	}

	if err := validateListen(c.Listen); err != nil {
		add("listen %q: %v", c.Listen, err)
	}

	if err := validateUpstream(c.AuthURL, false); err != nil {
		add("authURL %q: %v", c.AuthURL, err)
	}

	if !pingPathRE.MatchString(c.PingPath) {
		add("pingPath %q must be an absolute path of letters, digits and ._~- segments, e.g. /api/v3/ping", c.PingPath)
	}

	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		add("certFile and keyFile must be given together (or neither, for a generated self-signed certificate)")
	default:
		generated := c.GeneratedCertificate() // then stateDir's checks cover them
		for _, f := range []struct{ name, v string }{{"certFile", c.CertFile}, {"keyFile", c.KeyFile}, {"upstreamCAFile", c.UpstreamCAFile}} {
			if f.v == "" || (generated && f.name != "upstreamCAFile") {
				continue
			}
			if !filepath.IsAbs(f.v) {
				add("%s %q must be an absolute path", f.name, f.v)
			} else if p := safeValue(f.v); p != "" {
				add("%s %q %s", f.name, f.v, p)
			}
		}
	}

	if c.User != "" && !workerUserRE.MatchString(c.User) {
		add("user %q is not a valid user name", c.User)
	}
	if c.Nginx != "" && !filepath.IsAbs(c.Nginx) {
		add("nginx %q must be an absolute path to the nginx binary", c.Nginx)
	}

	if len(c.Services) == 0 {
		add("services is empty: name at least one service and its upstream URL, e.g. core-data: http://127.0.0.1:59880")
	}
	for _, name := range c.serviceNames() {
		if !naming.ValidName(name) {
			add("services: name %q must be 2-63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen", name)
			continue
		}
		raw := c.Services[name]
		if strings.HasPrefix(raw, ZeroTrustPrefix) {
			continue // validateZeroTrust
		}
		if raw == strings.TrimSuffix(ZeroTrustPrefix, ":") {
			add("services.%s: upstream %q: write %s<service>, e.g. %s%s", name, raw, ZeroTrustPrefix, ZeroTrustPrefix, name)
			continue
		}
		if err := validateUpstream(raw, true); err != nil {
			add("services.%s: upstream %q: %v", name, raw, err)
			continue
		}
		if u, _ := url.Parse(raw); u.Scheme == "https" && c.UpstreamCAFile == "" {
			add("services.%s: upstream %q uses https: set upstreamCAFile so NGINX can verify its certificate", name, raw)
		}
	}
	errs = append(errs, c.validateZeroTrust()...)
	return errors.Join(errs...)
}

// serviceNames returns the service names, sorted.
func (c *Config) serviceNames() []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validateListen checks a host:port listen address.
func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, e.g. %s: %v", DefaultListen, err)
	}
	if host == "" {
		return errors.New("the host is empty: give an address such as 127.0.0.1 (or 0.0.0.0 for every interface)")
	}
	if p := safeValue(host); p != "" {
		return errors.New("the host " + p)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return fmt.Errorf("the host %q is not a valid IPv6 address", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("the port %q must be a number from 1 to 65535", port)
	}
	return nil
}

// validateUpstream checks an http(s) URL NGINX proxies to. Service
// upstreams are base URLs (no query); the auth URL must have a path.
func validateUpstream(raw string, base bool) error {
	if raw == "" {
		return errors.New("is empty")
	}
	if p := safeValue(raw); p != "" {
		return errors.New(p)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && base:
		return errors.New("must be an http:// or https:// URL, or " + ZeroTrustPrefix + "<service> for a service in zerotrust mode")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not contain user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	case u.Opaque != "":
		return errors.New("is not a hierarchical URL")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q must be a number from 1 to 65535", p)
		}
	}
	if !base && (u.Path == "" || u.Path == "/") {
		return errors.New("has no path (proxy-auth answers on /auth)")
	}
	return nil
}

// upstreamBase returns an upstream URL without a trailing slash.
func upstreamBase(raw string) string { return strings.TrimRight(raw, "/") }
