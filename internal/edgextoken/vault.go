package edgextoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
)

// ErrTokenInvalid is returned when Vault refuses a token: it expired, was
// revoked, or never existed on this Vault.
var ErrTokenInvalid = errors.New("vault refused the token (expired, revoked or unknown)")

// Issue logs in to Vault with the service's AppRole credentials and returns
// the token file for the new token. It refuses a token EdgeX could not use
// (see [File.Validate]).
func Issue(ctx context.Context, c *vaultapi.Client, creds *credentials.Service) (*File, error) {
	l, err := vault.AppRoleLogin(ctx, c, creds.AuthMount, creds.RoleID, creds.SecretID)
	if err != nil {
		return nil, err
	}
	f := &File{Auth: Auth{
		ClientToken:      l.Token,
		Accessor:         l.Accessor,
		Policies:         l.Policies,
		TokenPolicies:    l.TokenPolicies,
		IdentityPolicies: l.IdentityPolicies,
		Metadata:         l.Metadata,
		EntityID:         l.EntityID,
		LeaseDuration:    int(l.TTL / time.Second),
		Renewable:        l.Renewable,
		Orphan:           l.Orphan,
	}}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("vault login of %s: %w", creds.Service, err)
	}
	return f, nil
}

// Status is what Vault says of a token when it looks it up.
type Status struct {
	// TTL is the time the token has left.
	TTL time.Duration
	// Period is the token's period (0 for a token that is not periodic).
	Period time.Duration
	// Renewable says whether the token can be renewed.
	Renewable bool
	// EntityID is the entity the token belongs to.
	EntityID string
	// Policies are the token's own policies.
	Policies []string
	// RoleName is the AppRole role it logged in through, when known.
	RoleName string
}

// Lookup asks Vault about token with the token itself (auth/token/lookup-self,
// which the default policy allows, as EdgeX does at start). A token Vault
// refuses is [ErrTokenInvalid].
func Lookup(ctx context.Context, c *vaultapi.Client, token string) (*Status, error) {
	data, err := selfCall(ctx, c, token, http.MethodGet, "lookup-self")
	if err != nil {
		return nil, err
	}
	st := &Status{EntityID: vault.String(data["entity_id"]), Policies: vault.Strings(data["policies"])}
	slices.Sort(st.Policies)
	st.TTL = seconds(data["ttl"])
	st.Period = seconds(data["period"])
	st.Renewable, _ = data["renewable"].(bool)
	if meta, ok := data["meta"].(map[string]any); ok {
		st.RoleName = vault.String(meta["role_name"])
	}
	return st, nil
}

// Renew renews token with the token itself (auth/token/renew-self, as EdgeX
// does every half period) and returns its new TTL.
func Renew(ctx context.Context, c *vaultapi.Client, token string) (time.Duration, error) {
	s, err := tokenClient(c, token)
	if err != nil {
		return 0, err
	}
	sec, err := s.Auth().Token().RenewSelfWithContext(ctx, 0)
	if err != nil {
		return 0, classify(err, "renew-self")
	}
	if sec == nil || sec.Auth == nil {
		return 0, errors.New("vault auth/token/renew-self: the answer holds no token information")
	}
	return time.Duration(sec.Auth.LeaseDuration) * time.Second, nil
}

// Revoke revokes token with the token itself (auth/token/revoke-self). A
// token Vault already refuses is not an error.
func Revoke(ctx context.Context, c *vaultapi.Client, token string) error {
	_, err := selfCall(ctx, c, token, http.MethodPost, "revoke-self")
	if errors.Is(err, ErrTokenInvalid) {
		return nil
	}
	return err
}

// tokenClient is a clone of c that sends token, so concurrent callers of c
// are not disturbed.
func tokenClient(c *vaultapi.Client, token string) (*vaultapi.Client, error) {
	s, err := vault.Clone(c)
	if err != nil {
		return nil, err
	}
	s.SetToken(token)
	return s, nil
}

// selfCall calls auth/token/<op> with token and returns the answer's data.
func selfCall(ctx context.Context, c *vaultapi.Client, token, method, op string) (map[string]any, error) {
	s, err := tokenClient(c, token)
	if err != nil {
		return nil, err
	}
	var sec *vaultapi.Secret
	if method == http.MethodGet {
		sec, err = s.Logical().ReadWithContext(ctx, "auth/token/"+op)
	} else {
		sec, err = s.Logical().WriteWithContext(ctx, "auth/token/"+op, nil)
	}
	if err != nil {
		return nil, classify(err, op)
	}
	if sec == nil {
		return map[string]any{}, nil
	}
	return sec.Data, nil
}

// classify turns Vault's refusal of a token into ErrTokenInvalid and
// sanitizes every other error.
func classify(err error, op string) error {
	if vault.StatusOf(err) == http.StatusForbidden {
		return fmt.Errorf("vault auth/token/%s: %w", op, ErrTokenInvalid)
	}
	return fmt.Errorf("vault auth/token/%s: %w", op, vault.Sanitize(err))
}

// seconds reads a JSON number of seconds (Vault's client decodes numbers as
// json.Number).
func seconds(v any) time.Duration {
	var n int64
	switch x := v.(type) {
	case json.Number:
		n, _ = x.Int64()
	case float64:
		n = int64(x)
	}
	return time.Duration(n) * time.Second
}
