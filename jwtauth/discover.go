package jwtauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// vaultDiscoveryPath is Vault's OpenID discovery document, relative to its address.
const vaultDiscoveryPath = "/v1/identity/oidc/.well-known/openid-configuration"

// maxDiscoverySize bounds the discovery document.
const maxDiscoverySize = 256 << 10

// Discover reads Vault's issuer and JWKS URL from its OpenID discovery
// document, GET <vaultAddr>/v1/identity/oidc/.well-known/openid-configuration
// (no Vault token needed). A nil client means one with a 10 s timeout.
// Both URLs must be absolute http or https URLs.
func Discover(ctx context.Context, vaultAddr string, client *http.Client) (issuer, keysURL string, err error) {
	base, err := url.Parse(vaultAddr)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", "", fmt.Errorf("discovering vault's issuer: address %q must be an absolute http or https URL", vaultAddr)
	}
	where := strings.TrimRight(vaultAddr, "/") + vaultDiscoveryPath
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return "", "", fmt.Errorf("discovering vault's issuer at %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("discovering vault's issuer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return "", "", fmt.Errorf("discovering vault's issuer at %s: HTTP status %s", where, resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoverySize)).Decode(&doc); err != nil {
		return "", "", fmt.Errorf("discovering vault's issuer at %s: decoding: %w", where, err)
	}
	for _, f := range []struct{ name, value string }{{"issuer", doc.Issuer}, {"jwks_uri", doc.JWKSURI}} {
		u, err := url.Parse(f.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "", fmt.Errorf("discovering vault's issuer at %s: %q is not an absolute http or https URL (got %q)", where, f.name, f.value)
		}
	}
	return doc.Issuer, doc.JWKSURI, nil
}
