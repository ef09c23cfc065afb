package doctor

// The service's side of the chain: what the runtime itself does at start,
// step by step, with the runtime's own code.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/zerotrust"
)

func (c *checkup) opt(key string) string { return c.cfg.Service.SecurityOptions.Get(key) }

// checkConfig loads the configuration as the service does, or makes the
// one provisioning implies.
func (c *checkup) checkConfig(context.Context) (string, error) {
	top := c.opts.Topology
	if c.opts.ConfigFile != "" {
		cfg, err := zerotrust.LoadConfig(c.opts.ConfigFile)
		if err != nil {
			return "", err
		}
		c.cfg, c.name = cfg, cfg.Service.Name
	} else {
		if top == nil || c.opts.Service == "" {
			return "", fail("give the service's configuration file (-c), or a topology (-f) and the service's name",
				"nothing to check: no configuration file, and no topology and service name")
		}
		if !slices.ContainsFunc(top.Services, func(s provisioningService) bool { return s.Name == c.opts.Service }) {
			return "", fail("name a service of the topology, or give the service's configuration file (-c)",
				"%s declares no service %q (services: %s)", c.topologyName(), c.opts.Service, strings.Join(serviceNames(top), ", "))
		}
		cfg := &zerotrust.Config{Service: zerotrust.ServiceConfig{Name: c.opts.Service, SecurityOptions: zerotrust.SecurityOptions{
			zerotrust.KeyMode:        "zerotrust",
			zerotrust.KeyController:  top.Ziti.Controller,
			zerotrust.KeyCredentials: credentials.Path(top.Output, c.opts.Service),
		}}}
		if top.Ziti.CACert != "" {
			cfg.Service.SecurityOptions[zerotrust.KeyControllerCA] = top.Ziti.CACert
		}
		if top.Vault.CACert != "" {
			cfg.Service.SecurityOptions[zerotrust.KeyVaultCA] = top.Vault.CACert
		}
		if err := cfg.Validate(); err != nil {
			return "", err
		}
		c.cfg, c.name = cfg, c.opts.Service
	}
	if m := c.cfg.Service.Mode(); m != zerotrust.ModeZeroTrust {
		return "", fail("set Service.SecurityOptions.Mode to zerotrust (env SERVICE_SECURITYOPTIONS_MODE)",
			"Service.SecurityOptions.Mode is %q: the doctor checks services in zerotrust mode", m)
	}
	if top != nil && !slices.ContainsFunc(top.Services, func(s provisioningService) bool { return s.Name == c.name }) {
		return "", fail("add the service to the topology and apply it, or give the right topology file",
			"%s declares no service %q", c.topologyName(), c.name)
	}
	if c.opts.Peer != "" && top != nil && !slices.ContainsFunc(top.Services, func(s provisioningService) bool { return s.Name == c.opts.Peer }) {
		return "", fail("name a service of the topology as the peer (clients cannot be dialled)",
			"%s declares no service %q to dial (services: %s)", c.topologyName(), c.opts.Peer, strings.Join(serviceNames(top), ", "))
	}
	c.credsFile = c.opt(zerotrust.KeyCredentials)
	c.controller, _ = zerotrust.ControllerURL(c.opt(zerotrust.KeyController))
	from := "as provisioned by " + c.topologyName()
	if c.opts.ConfigFile != "" {
		from = c.opts.ConfigFile + " (with environment overrides)"
	}
	return fmt.Sprintf("%s, %s: zerotrust mode, binds %s, controller %s", c.name, from, c.cfg.Service.ZitiService(), c.controller), nil
}

// checkCredentials reads the credentials file as the runtime does.
func (c *checkup) checkCredentials(context.Context) (string, error) {
	creds, err := credentials.Read(c.credsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fail(genericApply+" writes it; or point Service.SecurityOptions.VaultCredentialsFile at the file it wrote (<output>/services/"+c.name+"/credentials.json)", "%v", err)
	case errors.Is(err, fs.ErrPermission):
		return "", fail("run the doctor as the user the service runs as (the file must be readable by that user only)", "%v", err)
	case err != nil && strings.Contains(err.Error(), "chmod 600"):
		return "", fail(fmt.Sprintf("chmod 600 %s (and chmod 700 its folder); give each service only its own file", c.credsFile), "%v", err)
	case err != nil:
		return "", err
	}
	if creds.Service != c.name {
		return "", fail("point Service.SecurityOptions.VaultCredentialsFile at "+c.name+"'s own credentials file",
			"%s holds the credentials of %q, not of %q", c.credsFile, creds.Service, c.name)
	}
	c.creds = creds
	fi, _ := os.Stat(c.credsFile)
	mode := ""
	if fi != nil {
		mode = fmt.Sprintf(", mode %04o", fi.Mode().Perm())
	}
	return fmt.Sprintf("%s%s, for %q, AppRole mount %s, audience %q", c.credsFile, mode, creds.Service, creds.AuthMount, creds.Audience), nil
}

// vaultCA is the CA the service trusts Vault with: VaultCAFile, else the
// one provisioning wrote next to its credentials.
func (c *checkup) vaultCA() string {
	if f := c.opt(zerotrust.KeyVaultCA); f != "" {
		return f
	}
	return credentials.DefaultVaultCA(c.credsFile)
}

// vaultAddress is where the service reaches Vault.
func (c *checkup) vaultAddress() string {
	if a := strings.TrimRight(c.opt(zerotrust.KeyVaultAddress), "/"); a != "" {
		return a
	}
	return c.creds.VaultAddress
}

// checkVault builds the runtime's Vault client and asks Vault's health.
func (c *checkup) checkVault(ctx context.Context) (string, error) {
	addr := c.vaultAddress()
	vc, err := vault.NewClient(vault.Config{Address: addr, CAFile: c.vaultCA(), MaxRetries: -1})
	if err != nil {
		return "", err
	}
	h, err := vc.Sys().HealthWithContext(ctx)
	if err != nil {
		var uerr x509.UnknownAuthorityError
		var verr *tls.CertificateVerificationError
		if errors.As(err, &uerr) || errors.As(err, &verr) {
			return "", fail("give the CA of Vault's certificate in Service.SecurityOptions.VaultCAFile",
				"Vault at %s: its TLS certificate is not trusted: %v", addr, vault.WithoutQuery(vault.Sanitize(err)))
		}
		return "", fmt.Errorf("Vault at %s is unreachable: %w", addr, vault.WithoutQuery(vault.Sanitize(err)))
	}
	switch {
	case !h.Initialized:
		return "", fail("initialise Vault (vault operator init)", "Vault at %s is not initialised", addr)
	case h.Sealed:
		return "", fail("unseal Vault (vault operator unseal)", "Vault at %s is sealed", addr)
	}
	c.vault = vc
	return fmt.Sprintf("%s answers: initialised, unsealed, version %s", addr, h.Version), nil
}

// checkLogin logs in with the AppRole credentials, as the JWT source does.
func (c *checkup) checkLogin(ctx context.Context) (string, error) {
	login, err := vault.AppRoleLogin(ctx, c.vault, c.creds.AuthMount, c.creds.RoleID, c.creds.SecretID)
	if err != nil {
		switch code := vault.StatusOf(err); {
		case code == http.StatusBadRequest || code == http.StatusForbidden:
			return "", fmt.Errorf("vault refused the role ID or secret ID of %s (the secret ID was revoked, rotated or mistyped): %w", c.credsFile, err)
		case code == http.StatusNotFound || strings.Contains(err.Error(), "no handler for route"):
			return "", fail(genericApply+" enables the AppRole mount "+c.creds.AuthMount, "%v (is the AppRole mount %s enabled?)", err, c.creds.AuthMount)
		}
		return "", err
	}
	// Revoke the doctor's token: it was only a test of the login.
	if lc, err := vault.Clone(c.vault); err == nil {
		lc.SetToken(login.Token)
		_ = lc.Auth().Token().RevokeSelfWithContext(ctx, "")
	}
	return fmt.Sprintf("logged in on auth/%s as entity %s (policies %s, token TTL %s)",
		c.creds.AuthMount, login.EntityID, strings.Join(login.Policies, ", "), login.TTL), nil
}

// jwtClaims are the JWT claims the chain depends on.
type jwtClaims struct {
	Issuer   string
	Audience []string
	Name     string
	Expires  time.Time
	KeyID    string
}

// checkJWT fetches the JWT through the runtime's JWT source and reads its
// claims, comparing them with Vault's issuer, the credentials' audience
// and the service's name.
func (c *checkup) checkJWT(ctx context.Context) (string, error) {
	src, err := idtoken.New(c.credsFile, idtoken.Options{Address: c.opt(zerotrust.KeyVaultAddress), CAFile: c.vaultCA(), Logger: c.log})
	if err != nil {
		return "", err
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return "", err
	}
	claims, err := readClaims(tok)
	if err != nil {
		return "", fmt.Errorf("the JWT Vault issued for %s: %w", c.name, err)
	}
	c.jwt, c.claims = tok, claims
	if claims.Name != c.name {
		return "", fail(genericApply+" sets the OIDC role's template to {\"name\":\""+c.name+"\"}",
			"the JWT's name claim is %q, not %q: the controller would match it to another identity", claims.Name, c.name)
	}
	if !slices.Contains(claims.Audience, c.creds.Audience) {
		return "", fail(genericApply+" sets the OIDC role's client ID to the topology's jwt.audience",
			"the JWT's audience is %q, not %q as the credentials file says", claims.Audience, c.creds.Audience)
	}
	issuer, _, err := discoverIssuer(ctx, c.vault)
	if err != nil {
		return "", err
	}
	if claims.Issuer != issuer {
		return "", fail("set Vault's identity/oidc/config issuer consistently, then "+genericApply,
			"the JWT's issuer is %q but Vault's discovery document says %q", claims.Issuer, issuer)
	}
	return fmt.Sprintf("iss=%s aud=%s name=%s, expires in %s", claims.Issuer, strings.Join(claims.Audience, ","), claims.Name,
		time.Until(claims.Expires).Round(time.Second)), nil
}

// readClaims reads the claims without checking the signature: the JWT
// comes straight from Vault; the controller checks the signature.
func readClaims(tok string) (jwtClaims, error) {
	var mc jwt.MapClaims
	t, _, err := jwt.NewParser().ParseUnverified(tok, &mc)
	if err != nil {
		return jwtClaims{}, fmt.Errorf("not a JWT: %w", err)
	}
	var out jwtClaims
	out.Issuer, _ = mc.GetIssuer()
	out.Audience, _ = mc.GetAudience()
	if exp, _ := mc.GetExpirationTime(); exp != nil {
		out.Expires = exp.Time
	}
	out.Name, _ = mc["name"].(string)
	out.KeyID, _ = t.Header["kid"].(string)
	return out, nil
}

// checkController checks that the controller answers over TLS with a
// certificate the service trusts: the CA file it is given, the bundle
// pinned next to its credentials, or (not pinned yet) the controller's
// well-known bundle, which the service would pin at its first start. The
// doctor never writes the service's pin file.
func (c *checkup) checkController(ctx context.Context) (string, error) {
	pin := filepath.Join(filepath.Dir(c.credsFile), zerotrust.PinFileName)
	caFile := c.opt(zerotrust.KeyControllerCA)
	var pool *x509.CertPool
	var how string
	var err error
	switch _, statErr := os.Stat(pin); {
	case caFile != "":
		pool, err = ctrlca.ReadFile(caFile)
		how = "trusted with the CA file " + caFile
	case statErr == nil:
		pool, err = ctrlca.Load(ctx, ctrlca.Options{Controller: c.controller, PinFile: pin, Logger: c.log})
		how = "trusted with the CA bundle pinned in " + pin
		caFile = pin
	default:
		dir, derr := os.MkdirTemp("", "ztedge-doctor-")
		if derr != nil {
			return "", derr
		}
		c.cleanup = append(c.cleanup, func() { os.RemoveAll(dir) })
		caFile = filepath.Join(dir, "ca.pem")
		pool, err = ctrlca.Load(ctx, ctrlca.Options{Controller: c.controller, PinFile: caFile, Logger: c.log})
		how = "not pinned yet: the service's first start will trust the controller's well-known CA bundle and pin it in " + pin
		var oe *net.OpError
		if errors.As(err, &oe) {
			return "", fmt.Errorf("the ziti controller at %s is unreachable: %w", c.controller, oe)
		}
	}
	if err != nil {
		if errors.Is(err, ctrlca.ErrChanged) {
			return "", fail(fmt.Sprintf("if the controller's CA was replaced on purpose, delete %s so the next start pins the new one; otherwise check that %s is the right controller", pin, c.controller), "%v", err)
		}
		return "", err
	}
	version, err := controllerVersion(ctx, c.controller, pool)
	if err != nil {
		var uerr x509.UnknownAuthorityError
		var verr *tls.CertificateVerificationError
		var herr x509.HostnameError
		if errors.As(err, &uerr) || errors.As(err, &verr) || errors.As(err, &herr) {
			return "", fail("give the controller's own CA bundle in Service.SecurityOptions.OpenZitiCAFile (ziti.caCert in the topology), or remove the setting to pin the controller's bundle at first start",
				"the ziti controller at %s presents a certificate %s does not trust: %v", c.controller, caFile, err)
		}
		return "", fmt.Errorf("the ziti controller at %s is unreachable: %w", c.controller, err)
	}
	c.caFile = caFile
	return fmt.Sprintf("%s answers (%s), %s", c.controller, version, how), nil
}

// controllerVersion asks the controller's client API for its version over
// TLS trusting only pool.
func controllerVersion(ctx context.Context, controller string, pool *x509.CertPool) (string, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           nil,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, controller+"/edge/client/v1/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /edge/client/v1/version answered %s: is this a Ziti controller?", resp.Status)
	}
	var v struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return "", fmt.Errorf("GET /edge/client/v1/version: not a Ziti controller's answer: %w", err)
	}
	return "version " + v.Data.Version, nil
}

// checkAuthenticate starts the runtime itself (zerotrust.New: Vault login,
// JWT, CA, authentication with the JWT) and closes it again. When the
// controller's CA is not pinned yet, the runtime is given the bundle the
// doctor fetched, so that it pins nothing.
func (c *checkup) checkAuthenticate(ctx context.Context) (string, error) {
	cfg := *c.cfg
	cfg.Service.SecurityOptions = maps.Clone(c.cfg.Service.SecurityOptions)
	cfg.Service.HealthPort = 0
	cfg.Service.MetricsPath = ""
	if c.opt(zerotrust.KeyControllerCA) == "" {
		cfg.Service.SecurityOptions[zerotrust.KeyControllerCA] = c.caFile
	}
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	start := time.Now()
	svc, err := zerotrust.New(ctx, &cfg, zerotrust.Options{Logger: c.log})
	if err != nil {
		return "", err
	}
	took := time.Since(start)
	svc.Close()
	return fmt.Sprintf("the runtime started as %s (Vault login, JWT, controller authentication) in %s", c.name, took.Round(time.Millisecond)), nil
}
