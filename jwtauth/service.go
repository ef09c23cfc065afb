package jwtauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/ztedge/ztedge/zerotrust"
)

// ForService builds the verifier a service's configuration asks for
// (Service.SecurityOptions): the issuer and key set discovered from Vault
// (VaultAddress, else the credentials file's address), the audience
// (JWTAudience, else the credentials' audience, else "edgex"), and the
// validation method (JWTValidation), with introspection made through the
// service's own Vault login. It returns nil, nil when the service does not
// require JWTs.
func ForService(ctx context.Context, rt *zerotrust.Runtime) (*Verifier, error) {
	svc := rt.Config.Service
	if !svc.RequireJWT() {
		return nil, nil
	}
	opts := svc.SecurityOptions
	vaultAddr := opts.Get(zerotrust.KeyVaultAddress)
	audience := opts.Get(zerotrust.KeyJWTAudience)
	if rt.Tokens != nil {
		if vaultAddr == "" {
			vaultAddr = rt.Tokens.Address()
		}
		if audience == "" {
			audience = rt.Tokens.Audience()
		}
	}
	if audience == "" {
		audience = "edgex"
	}
	if vaultAddr == "" {
		return nil, errors.New("jwtauth: the service requires JWTs but no Vault address is configured")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if caFile := opts.Get(zerotrust.KeyVaultCA); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: %s: %w", zerotrust.KeyVaultCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("jwtauth: %s: %s holds no PEM certificate", zerotrust.KeyVaultCA, caFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	issuer, keys, err := Discover(ctx, vaultAddr, client)
	if err != nil {
		return nil, err
	}
	method, err := opts.JWTValidation()
	if err != nil {
		return nil, err
	}
	o := Options{Issuer: issuer, Audiences: []string{audience}, KeysURL: keys, Logger: rt.Logger, HTTPClient: client}
	switch method {
	case zerotrust.ValidateIntrospect, zerotrust.ValidateBoth:
		if rt.Tokens == nil {
			return nil, fmt.Errorf("jwtauth: %s=%s needs the service's Vault credentials (%s) to ask Vault",
				zerotrust.KeyJWTValidation, method, zerotrust.KeyCredentials)
		}
		o.Mode = Introspect
		if method == zerotrust.ValidateBoth {
			o.Mode = Both
		}
		o.Introspector = rt.Tokens
	}
	return NewVerifier(ctx, o)
}
