package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/provisioning"
)

// collectVault fills in Vault's health, issuer and signing key.
func collectVault(ctx context.Context, top *provisioning.Topology, st *Status) {
	vs := &st.Vault
	vc, err := provisioning.VaultAdmin(ctx, top)
	if err != nil {
		err = vault.WithoutQuery(err)
		vs.Error = err.Error()
		// sys/health needs no token: it tells a sealed Vault from one
		// that refused the token or cannot be reached.
		if c, cerr := vault.NewClient(vault.Config{Address: top.Vault.Address, CAFile: top.Vault.CACert, MaxRetries: -1}); cerr == nil {
			if h, herr := c.Sys().HealthWithContext(ctx); herr == nil && h.Sealed {
				vs.Sealed, vs.Version = true, h.Version
				st.problem("Vault is sealed: no service can log in or get a JWT (unseal it; ztedge stack up unseals the local stack's)")
				return
			}
		}
		st.problem("Vault cannot be read: %v", err)
		return
	}
	vs.Reachable = true
	if h, err := vc.Sys().HealthWithContext(ctx); err == nil {
		vs.Sealed, vs.Version = h.Sealed, h.Version
	}
	if vs.Issuer, vs.JWKSURL, err = provisioning.DiscoverVault(ctx, vc); err != nil {
		vs.Error = err.Error()
		st.problem("Vault's OIDC discovery document cannot be read: %v", err)
	}
	if err := readKey(ctx, vc, &vs.Key); err != nil {
		vs.Error = err.Error()
		st.problem("Vault's OIDC key %s cannot be read: %v", top.Vault.Key, err)
		return
	}
	switch {
	case !vs.Key.Present:
		st.problem("Vault has no OIDC key %s: no service can get a JWT (run ztedge provision apply)", top.Vault.Key)
	case vs.Key.PublishedKeys == 0:
		st.problem("Vault publishes no public key: the controller cannot verify any JWT")
	}
}

// readKey reads the OIDC key's settings and counts the published keys.
func readKey(ctx context.Context, vc *vaultapi.Client, k *KeyStatus) error {
	sec, err := vc.Logical().ReadWithContext(ctx, "identity/oidc/key/"+k.Name)
	if err != nil && !vault.IsNotFound(err) {
		return vault.Sanitize(err)
	}
	if sec != nil && sec.Data != nil {
		k.Present = true
		k.Algorithm, _ = sec.Data["algorithm"].(string)
		k.RotationPeriodSeconds = seconds(sec.Data["rotation_period"])
		k.VerificationTTLSeconds = seconds(sec.Data["verification_ttl"])
		if ids, ok := sec.Data["allowed_client_ids"].([]any); ok {
			for _, id := range ids {
				if s, ok := id.(string); ok {
					k.AllowedClientIDs = append(k.AllowedClientIDs, s)
				}
			}
		}
	}
	resp, err := vc.Logical().ReadRawWithContext(ctx, "identity/oidc/.well-known/keys")
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("reading Vault's key set: %w", vault.Sanitize(err))
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := resp.DecodeJSON(&set); err != nil {
		return fmt.Errorf("reading Vault's key set: %w", err)
	}
	k.PublishedKeys = len(set.Keys)
	return nil
}

// seconds reads a duration Vault gives in seconds, as a number or string.
func seconds(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return n
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
