package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/api_session"
	"github.com/openziti/edge-api/rest_management_api_client/current_api_session"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_model"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/ztedge/ztedge/internal/ctrlca"
)

// probeTimeout bounds one readiness or health request.
const probeTimeout = 5 * time.Second

// httpGetOK does a GET and reports an error unless the status is 200.
func httpGetOK(ctx context.Context, client *http.Client, u string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// vaultHealthy checks GET /v1/sys/health: 200 means initialised, unsealed
// and active. caFile is the CA of a TLS Vault; empty for the dev server.
func vaultHealthy(ctx context.Context, addr, caFile string) error {
	c, err := vaultHTTPClient(caFile)
	if err != nil {
		return err
	}
	err = httpGetOK(ctx, c, addr+"/v1/sys/health")
	if err != nil && strings.Contains(err.Error(), "503") {
		// Vault answers 503 on sys/health when it is sealed.
		return fmt.Errorf("sealed (a restarted TLS Vault comes back sealed; \"ztedge stack up\" unseals it): %w", err)
	}
	return err
}

// controllerClient returns an HTTP client for the controller that trusts
// pool, or, if pool is nil, skips certificate verification (only for the
// readiness probe before the CA is known).
func controllerClient(pool *x509.CertPool) *http.Client {
	tlsCfg := &tls.Config{RootCAs: pool}
	if pool == nil {
		tlsCfg.InsecureSkipVerify = true
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
}

// controllerAnswers checks that the controller serves its client API version.
func controllerAnswers(ctx context.Context, ctrlURL string, pool *x509.CertPool) error {
	return httpGetOK(ctx, controllerClient(pool), ctrlURL+"/edge/client/v1/version")
}

// loadCAPool reads a PEM bundle into a certificate pool.
func loadCAPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read controller CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("controller CA bundle %s holds no PEM certificates", path)
	}
	return pool, nil
}

// managementLogin logs in to the edge management API with a user name and
// password, trusting pool.
func managementLogin(ctx context.Context, ctrlURL string, pool *x509.CertPool, user, password string) (*edgeapis.ManagementApiClient, error) {
	apiURL, err := url.Parse(ctrlURL + "/edge/management/v1")
	if err != nil {
		return nil, fmt.Errorf("controller URL %q: %w", ctrlURL, err)
	}
	client := edgeapis.NewManagementApiClientWithConfig(&edgeapis.ApiClientConfig{
		ApiUrls: []*url.URL{apiURL}, CaPool: pool, Proxy: ctrlca.NoProxy,
		TotpCodeProvider: edgeapis.NewTotpCodeProviderFromChStringFunc(nil),
	})
	creds := edgeapis.NewUpdbCredentials(user, password)
	creds.CaPool = pool
	// The SDK's Authenticate takes no context: run it aside so that ctx
	// (and a per-attempt bound) still applies.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := client.Authenticate(creds, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("log in to the Ziti management API as %s: %w", user, err)
		}
		return client, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("log in to the Ziti management API as %s: %w", user, ctx.Err())
	}
}

// onlineRouters returns the names of the edge routers that are online, and
// the total number of routers.
func onlineRouters(ctx context.Context, client *edgeapis.ManagementApiClient) (online []string, total int, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	resp, err := client.API.EdgeRouter.ListEdgeRouters(&edge_router.ListEdgeRoutersParams{Context: ctx}, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list edge routers: %w", err)
	}
	if resp.Payload == nil {
		return nil, 0, errors.New("list edge routers: empty answer")
	}
	for _, r := range resp.Payload.Data {
		if r != nil && r.IsOnline != nil && *r.IsOnline && r.Name != nil {
			online = append(online, *r.Name)
		}
	}
	return online, len(resp.Payload.Data), nil
}

// changeOwnPassword replaces the logged-in identity's updb password.
func changeOwnPassword(ctx context.Context, client *edgeapis.ManagementApiClient, user, current, next string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	list, err := client.API.CurrentAPISession.ListCurrentIdentityAuthenticators(
		&current_api_session.ListCurrentIdentityAuthenticatorsParams{Context: ctx}, nil)
	if err != nil {
		return fmt.Errorf("list the admin's authenticators: %w", err)
	}
	id := ""
	if list.Payload != nil {
		for _, a := range list.Payload.Data {
			if a != nil && a.Method != nil && *a.Method == "updb" && a.ID != nil {
				id = *a.ID
			}
		}
	}
	if id == "" {
		return errors.New("the admin identity has no password (updb) authenticator")
	}
	newPw := rest_model.Password(next)
	curPw := rest_model.Password(current)
	name := rest_model.Username(user)
	_, err = client.API.CurrentAPISession.UpdateCurrentIdentityAuthenticator(
		&current_api_session.UpdateCurrentIdentityAuthenticatorParams{
			ID: id,
			Authenticator: &rest_model.AuthenticatorUpdateWithCurrent{
				AuthenticatorUpdate: rest_model.AuthenticatorUpdate{Password: &newPw, Username: &name},
				CurrentPassword:     &curPw,
			},
			Context: ctx,
		}, nil)
	if err != nil {
		return fmt.Errorf("change the admin password: %w", err)
	}
	return nil
}

// revokeOtherSessions deletes every API session of the logged-in identity
// except the current one (for example the session the quickstart opened
// with the bootstrap password, whose token it prints to its log). It
// returns how many it deleted.
func revokeOtherSessions(ctx context.Context, client *edgeapis.ManagementApiClient) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cur, err := client.API.CurrentAPISession.GetCurrentAPISession(&current_api_session.GetCurrentAPISessionParams{Context: ctx}, nil)
	if err != nil {
		return 0, fmt.Errorf("read the current API session: %w", err)
	}
	if cur.Payload == nil || cur.Payload.Data == nil || cur.Payload.Data.ID == nil || cur.Payload.Data.IdentityID == nil {
		return 0, errors.New("read the current API session: incomplete answer")
	}
	self, identity := *cur.Payload.Data.ID, *cur.Payload.Data.IdentityID
	limit := int64(500)
	list, err := client.API.APISession.ListAPISessions(&api_session.ListAPISessionsParams{Limit: &limit, Context: ctx}, nil)
	if err != nil {
		return 0, fmt.Errorf("list API sessions: %w", err)
	}
	n := 0
	if list.Payload != nil {
		for _, s := range list.Payload.Data {
			if s == nil || s.ID == nil || *s.ID == self || s.IdentityID == nil || *s.IdentityID != identity {
				continue
			}
			if _, err := client.API.APISession.DeleteAPISessions(&api_session.DeleteAPISessionsParams{ID: *s.ID, Context: ctx}, nil); err != nil {
				return n, fmt.Errorf("delete API session %s: %w", *s.ID, err)
			}
			n++
		}
	}
	return n, nil
}

// vaultRequest sends a JSON request to Vault with a token and returns an
// error unless the status is 2xx.
func vaultRequest(ctx context.Context, method, u, token string, body any) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL.Path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// replaceVaultRootToken creates an orphan root token with the chosen id and
// revokes the bootstrap token that the dev server was started with (which
// Vault prints to its log and which sits in the server's environment).
func replaceVaultRootToken(ctx context.Context, addr, bootstrap, token string) error {
	err := vaultRequest(ctx, http.MethodPost, addr+"/v1/auth/token/create-orphan", bootstrap, map[string]any{
		"id":           token,
		"policies":     []string{"root"},
		"display_name": "ztedge-root",
	})
	if err != nil {
		// An earlier attempt may have got this far.
		if vaultRequest(ctx, http.MethodGet, addr+"/v1/auth/token/lookup-self", token, nil) != nil {
			return fmt.Errorf("create the Vault root token: %w", err)
		}
	}
	if err := vaultRequest(ctx, http.MethodPost, addr+"/v1/auth/token/revoke-self", bootstrap, nil); err != nil {
		// Already revoked is fine.
		if vaultRequest(ctx, http.MethodGet, addr+"/v1/auth/token/lookup-self", bootstrap, nil) == nil {
			return fmt.Errorf("revoke the Vault bootstrap token: %w", err)
		}
	}
	return nil
}
