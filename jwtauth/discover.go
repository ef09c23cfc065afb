package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ztedge/ztedge/internal/endpoint"
	"github.com/ztedge/ztedge/internal/vault"
)

// vaultDiscoveryPath is Vault's OpenID discovery document, relative to its address.
const vaultDiscoveryPath = "/v1/identity/oidc/.well-known/openid-configuration"

// maxDiscoverySize bounds the discovery document.
const maxDiscoverySize = 256 << 10

// Discover reads Vault's issuer and JWKS URL from its OpenID discovery
// document, GET <vaultAddr>/v1/identity/oidc/.well-known/openid-configuration
// (no Vault token needed). Both must be absolute http or https URLs, or
// absolute paths, which a Vault without api_addr publishes (issuer
// "/v1/identity/oidc", as in EdgeX): the issuer is then returned as is, to
// match the tokens' iss, and the key set's URL is resolved against
// vaultAddr. A nil client means the default of [Options.HTTPClient].
func Discover(ctx context.Context, vaultAddr string, client *http.Client) (issuer, keysURL string, err error) {
	base, err := endpoint.URL(vaultAddr, "https", "http")
	if err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer: address %w", err)
	}
	where := strings.TrimRight(vaultAddr, "/") + vaultDiscoveryPath
	if client == nil {
		client = defaultHTTPClient()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer at %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer at %s: HTTP status %s", where, resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoverySize)).Decode(&doc); err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer at %s: decoding: %w", where, err)
	}
	// A Vault without api_addr or an issuer setting (as EdgeX runs it)
	// names itself by path only: issuer "/v1/identity/oidc". Tokens then
	// carry exactly that iss, and the key set is at that path on the Vault
	// this document came from.
	keys, err := resolve(base, doc.JWKSURI)
	if err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer at %s: %q is not an http or https URL or an absolute path (got %q)", where, "jwks_uri", doc.JWKSURI)
	}
	if _, err := resolve(base, doc.Issuer); err != nil {
		return "", "", fmt.Errorf("jwtauth: discovering vault's issuer at %s: %q is not an http or https URL or an absolute path (got %q)", where, "issuer", doc.Issuer)
	}
	return doc.Issuer, keys, nil
}

// resolve returns ref as an absolute URL: as is when it is an absolute
// http(s) URL, against base's scheme and host when it is an absolute path.
func resolve(base *url.URL, ref string) (string, error) {
	u, err := url.Parse(ref)
	switch {
	case err != nil:
		return "", err
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return ref, nil
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(ref, "//"):
		return (&url.URL{Scheme: base.Scheme, Host: base.Host, Path: u.Path, RawQuery: u.RawQuery}).String(), nil
	}
	return "", errors.New("not absolute")
}

// defaultHTTPClient is the client for Vault's discovery document and key
// set when the caller gives none: [vault.HTTPClient]'s, with no
// environment proxy and no redirects followed.
func defaultHTTPClient() *http.Client {
	c, _ := vault.HTTPClient(vault.Config{}) // fails only on a CA file
	return c
}
