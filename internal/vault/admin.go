package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// AdminClient returns a client for cfg carrying token, after checking that
// Vault answers, is initialized and unsealed, and accepts the token.
// source says where the token came from (a file's path, or "VAULT_TOKEN")
// for the error that reports a rejected token; the token itself is never
// put in an error. Like [NewClient], it ignores environment proxies and
// the VAULT_* settings of the environment.
func AdminClient(ctx context.Context, cfg Config, token, source string) (*vaultapi.Client, error) {
	if strings.TrimSpace(token) == "" {
		return nil, fmt.Errorf("vault: no token in %s", source)
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	addr := c.Address()
	c.SetToken(strings.TrimSpace(token))
	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault at %s is unreachable: %w", addr, Sanitize(err))
	}
	if !h.Initialized {
		return nil, fmt.Errorf("vault at %s is not initialized", addr)
	}
	if h.Sealed {
		return nil, fmt.Errorf("vault at %s is sealed: unseal it first", addr)
	}
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		var ve *Error
		if err := Sanitize(err); errors.As(err, &ve) && (ve.StatusCode == http.StatusUnauthorized || ve.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("vault at %s rejected the token from %s: %s", addr, source, strings.Join(ve.Messages, "; "))
		}
		return nil, fmt.Errorf("vault at %s: checking the token from %s failed: %w", addr, source, Sanitize(err))
	}
	return c, nil
}
