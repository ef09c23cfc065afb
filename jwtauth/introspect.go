package jwtauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/vault"
)

// Introspector tells whether the issuer considers a token active.
// Implementations must never put the token in an error or a log line.
type Introspector interface {
	Introspect(ctx context.Context, token string) (active bool, err error)
}

// IntrospectorFunc adapts a function to an [Introspector].
type IntrospectorFunc func(ctx context.Context, token string) (bool, error)

// Introspect calls f.
func (f IntrospectorFunc) Introspect(ctx context.Context, token string) (bool, error) {
	return f(ctx, token)
}

// vaultIntrospectPath is Vault's token introspection endpoint.
const vaultIntrospectPath = "identity/oidc/introspect"

// maxIntrospectionAnswer bounds the size of Vault's answer.
const maxIntrospectionAnswer = 64 << 10

// VaultIntrospector asks Vault's identity/oidc/introspect endpoint whether
// a token is active. Vault checks the signature against its keys, the
// issuer, exp (with Vault's own leeway of a minute), aud when ClientID is
// set, and that the token's entity still exists and is not disabled.
//
// The Vault client must carry a Vault token allowed "create" and "update"
// on identity/oidc/introspect: ztedge's provisioning grants that to each
// service's AppRole login, so a service can log in with its credentials
// file and use that client. Set the exported fields before the first call;
// it is then safe for concurrent use.
type VaultIntrospector struct {
	client *vaultapi.Client

	// ClientID, when set, is sent as client_id: Vault then also requires
	// that the token's aud contain it.
	ClientID string
	// Relogin, when set, is called when Vault refuses the client's token
	// (HTTP 401 or 403), for example after it expired; it should log in
	// again and set the client's new token. The introspection is then
	// retried once. Concurrent refusals lead to a single Relogin.
	Relogin func(ctx context.Context, client *vaultapi.Client) error
	// Logger receives Vault's reasons for inactive tokens, at debug level.
	// Default slog.Default().
	Logger *slog.Logger

	reloginMu sync.Mutex
}

// NewVaultIntrospector returns an introspector using client, which must
// already be logged in (see [VaultIntrospector] for the policy it needs).
func NewVaultIntrospector(client *vaultapi.Client) *VaultIntrospector {
	return &VaultIntrospector{client: client}
}

// Introspect posts the token to Vault and returns its "active" answer. An
// error means Vault could not be asked or answered something unexpected;
// it never contains the token.
func (i *VaultIntrospector) Introspect(ctx context.Context, token string) (bool, error) {
	used := i.client.Token()
	active, err := i.ask(ctx, token)
	if code := vault.StatusOf(err); err == nil || i.Relogin == nil ||
		(code != http.StatusUnauthorized && code != http.StatusForbidden) {
		return active, err
	}
	if err := i.relogin(ctx, used); err != nil {
		return false, fmt.Errorf("jwtauth: vault token introspection: vault refused the client token, and logging in again failed: %w", vault.Sanitize(err))
	}
	return i.ask(ctx, token)
}

// relogin calls Relogin unless another goroutine already replaced the
// token used, the one Vault refused.
func (i *VaultIntrospector) relogin(ctx context.Context, used string) error {
	i.reloginMu.Lock()
	defer i.reloginMu.Unlock()
	if i.client.Token() != used {
		return nil
	}
	i.logger().InfoContext(ctx, "vault refused the introspection client token; logging in again")
	return i.Relogin(ctx, i.client)
}

// ask performs one introspection request.
func (i *VaultIntrospector) ask(ctx context.Context, token string) (bool, error) {
	req := map[string]string{"token": token}
	if i.ClientID != "" {
		req["client_id"] = i.ClientID
	}
	body, err := json.Marshal(req)
	if err != nil {
		return false, fmt.Errorf("jwtauth: vault token introspection: encoding the request: %w", err)
	}
	resp, err := i.client.Logical().WriteRawWithContext(ctx, vaultIntrospectPath, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return false, fmt.Errorf("jwtauth: vault token introspection at %s: %w", i.client.Address(), vault.Sanitize(err))
	}
	var answer struct {
		Active *bool  `json:"active"`
		Error  string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxIntrospectionAnswer)).Decode(&answer); err != nil {
		return false, fmt.Errorf("jwtauth: vault token introspection at %s: decoding the answer: %w", i.client.Address(), err)
	}
	if answer.Active == nil {
		return false, fmt.Errorf("jwtauth: vault token introspection at %s: the answer has no \"active\" field", i.client.Address())
	}
	if !*answer.Active {
		i.logger().DebugContext(ctx, "vault reports a token inactive", "reason", answer.Error)
	}
	return *answer.Active, nil
}

func (i *VaultIntrospector) logger() *slog.Logger {
	if i.Logger != nil {
		return i.Logger
	}
	return slog.Default()
}
