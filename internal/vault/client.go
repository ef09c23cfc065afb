// Package vault is ztedge's one way to talk to Vault (or OpenBao): a client
// built from an address and an optional CA file that never uses an
// environment proxy and never picks up a token from the environment, the
// AppRole login, and read, write, delete and list helpers where a path that
// does not exist is not an error.
package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/endpoint"
)

// DefaultTimeout bounds each Vault request unless [Config.Timeout] says otherwise.
const DefaultTimeout = 10 * time.Second

// Config says how to reach Vault.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.example:8200. Required.
	Address string
	// CAFile is a PEM file with the CA of Vault's TLS certificate; empty
	// means the system's roots.
	CAFile string
	// Timeout bounds each request. Default [DefaultTimeout].
	Timeout time.Duration
	// MaxRetries is how often a request that failed with a 5xx answer or a
	// connection error is retried. Default 1; negative means none.
	MaxRetries int
	// Dial, if not nil, makes the connections to Vault instead of a TCP
	// dial of the address (e.g. over the overlay). TLS still runs over
	// them, verifying Vault's certificate for the address's host name.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Transport returns an HTTP transport for requests that carry secrets or
// tokens: TLS 1.2 or newer, and never HTTP_PROXY or HTTPS_PROXY, which
// would hand them to whoever runs the proxy.
func Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return tr
}

// HTTPClient returns an http.Client for requests to Vault: TLS with the CA
// of cfg, the timeout of cfg, no environment proxy (see [Transport]), and
// no redirects: an answer 3xx is an error, so that neither net/http nor
// the Vault API client (which follows redirects itself) sends a request
// with its token or secret on to another host.
func HTTPClient(cfg Config) (*http.Client, error) {
	tr := Transport()
	// Provisioning sends several requests at once: keep their connections.
	tr.MaxIdleConnsPerHost = 32
	if cfg.Dial != nil {
		tr.DialContext = cfg.Dial
	}
	if cfg.CAFile != "" {
		pool, err := LoadCA(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport: noRedirects{tr},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// noRedirects turns an answer 3xx into an error.
type noRedirects struct{ base *http.Transport }

// RoundTrip sends r and refuses a redirect in the answer, naming where it
// pointed without its path or query, which may hold secrets.
func (t noRedirects) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
		return resp, err
	}
	_ = resp.Body.Close()
	to := "elsewhere"
	if u, err := url.Parse(resp.Header.Get("Location")); err == nil && u.Host != "" {
		to = u.Scheme + "://" + u.Host
	}
	return nil, fmt.Errorf("vault at %s answered %s, a redirect to %s: ztedge follows no redirect from Vault (point it at the active node's address)", r.URL.Host, resp.Status, to)
}

// CloseIdleConnections closes the transport's idle connections.
func (t noRedirects) CloseIdleConnections() { t.base.CloseIdleConnections() }

// LoadCA reads a PEM bundle into a certificate pool.
func LoadCA(file string) (*x509.CertPool, error) {
	pem, err := configfile.Read(file)
	if err != nil {
		return nil, fmt.Errorf("vault CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("vault CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// CheckAddress reports whether addr is Vault's base URL: http or https,
// a host, a valid port, and nothing else (see [endpoint.Base]).
func CheckAddress(addr string) error {
	if _, err := endpoint.Base(addr, "https", "http"); err != nil {
		return fmt.Errorf("vault address %w", err)
	}
	return nil
}

// WarnPlainHTTP logs a warning when addr is a plain-http Vault beyond
// loopback: what then crosses the network unprotected, and fix, the
// setting that would protect it (e.g. "use https and VaultCAFile").
func WarnPlainHTTP(log *slog.Logger, addr, crossing, fix string) {
	if strings.HasPrefix(strings.ToLower(addr), "http://") && !IsLoopback(addr) {
		log.Warn("Vault is reached over plain http on a non-loopback address: "+crossing+" cross the network unprotected; "+fix, "vault", addr)
	}
}

// IsLoopback reports whether addr (a URL) names a loopback host.
func IsLoopback(addr string) bool {
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net4or6(h)
	return ip != nil && ip.IsLoopback()
}

// NewClient returns a Vault API client for cfg with no token set. It uses
// the client of [HTTPClient], so it ignores HTTP_PROXY, follows no
// redirect, and ignores VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS,
// VAULT_SKIP_VERIFY and the other VAULT_* settings of the environment.
// Copy it with [Clone], not its Clone method, which reads the environment
// again.
func NewClient(cfg Config) (*vaultapi.Client, error) {
	addr := strings.TrimRight(strings.TrimSpace(cfg.Address), "/")
	if err := CheckAddress(addr); err != nil {
		return nil, err
	}
	hc, err := HTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = 1
	case retries < 0:
		retries = 0
	}
	c, err := vaultapi.NewClient(&vaultapi.Config{
		Address:    addr,
		HttpClient: hc,
		Timeout:    hc.Timeout,
		MaxRetries: retries,
	})
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", addr, err)
	}
	scrub(c)
	return c, nil
}

// Clone returns a copy of c for another token: the same address and HTTP
// client, no token, and none of the namespace and headers the Vault API
// client takes from VAULT_NAMESPACE and VAULT_HEADERS when it clones.
func Clone(c *vaultapi.Client) (*vaultapi.Client, error) {
	lc, err := c.Clone()
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", c.Address(), err)
	}
	scrub(lc)
	return lc, nil
}

// scrub removes from a new Vault API client what it took from the
// environment: VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS.
func scrub(c *vaultapi.Client) {
	c.ClearToken()
	c.ClearNamespace()
	c.SetHeaders(http.Header{vaultapi.RequestHeaderName: {"true"}})
}

// Login is the outcome of a successful login.
type Login struct {
	// Token is the Vault token. Never log it.
	Token string
	// EntityID is the Vault entity the token belongs to.
	EntityID string
	// TTL is the token's lifetime; 0 means it does not expire.
	TTL time.Duration
	// Renewable says whether the token can be renewed.
	Renewable bool
	// Policies are the token's policies.
	Policies []string
	// Accessor names the token without being it.
	Accessor string
	// TokenPolicies and IdentityPolicies are the policies attached to the
	// token itself and those it has through its entity.
	TokenPolicies, IdentityPolicies []string
	// Metadata is the login's metadata (AppRole: role_name).
	Metadata map[string]string
	// Orphan says whether the token has no parent.
	Orphan bool
}

// AppRoleLogin logs in at auth/<mount>/login with an AppRole role_id and
// secret_id and returns the token; it does not set it on c. Errors name
// the address and mount, never the secret.
func AppRoleLogin(ctx context.Context, c *vaultapi.Client, mount, roleID, secretID string) (*Login, error) {
	mount = strings.Trim(mount, "/")
	if mount == "" || roleID == "" || secretID == "" {
		return nil, errors.New("vault approle login: mount, role_id and secret_id are all required")
	}
	// A clone without a token: the login must not carry another token.
	lc, err := Clone(c)
	if err != nil {
		return nil, err
	}
	sec, err := lc.Logical().WriteWithContext(ctx, "auth/"+mount+"/login", map[string]any{
		"role_id": roleID, "secret_id": secretID,
	})
	if err != nil {
		return nil, fmt.Errorf("vault approle login at %s (auth/%s): %w", c.Address(), mount, Sanitize(err))
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return nil, fmt.Errorf("vault approle login at %s (auth/%s): the answer holds no token", c.Address(), mount)
	}
	return &Login{
		Token:     sec.Auth.ClientToken,
		EntityID:  sec.Auth.EntityID,
		TTL:       time.Duration(sec.Auth.LeaseDuration) * time.Second,
		Renewable: sec.Auth.Renewable,
		Policies:  sec.Auth.Policies,

		Accessor:         sec.Auth.Accessor,
		TokenPolicies:    sec.Auth.TokenPolicies,
		IdentityPolicies: sec.Auth.IdentityPolicies,
		Metadata:         sec.Auth.Metadata,
		Orphan:           sec.Auth.Orphan,
	}, nil
}
