package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/caller"
	"github.com/ztedge/ztedge/jwtauth"
)

const pingPath = "/api/v3/ping"

// whoAmI answers the caller and the claims' subject.
func whoAmI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, _ := caller.From(r.Context())
		c, ok := jwtauth.ClaimsFrom(r.Context())
		sub := ""
		if ok {
			sub = c.Subject
		}
		out := who.Name + " " + sub
		if who.Relay != "" {
			out += " via " + who.Relay
		}
		_, _ = io.WriteString(w, out)
	})
}

func TestMiddleware(t *testing.T) {
	is := newIssuer(t)
	logs := &logBuffer{}
	opts := is.options()
	opts.Logger = logs.logger()
	v := is.verifier(opts)
	h := jwtauth.Middleware(v, jwtauth.MiddlewareOptions{Exempt: []string{pingPath}, Relays: []string{"gateway"}})(whoAmI())
	good := is.token(is.ec, is.claims())
	expired := is.token(is.ec, with(is.claims(), "exp", is.clock.Now().Add(-time.Hour).Unix()))
	noName := is.token(is.ec, with(is.claims(), "name", nil))

	cases := []struct {
		name      string
		path      string
		header    []string // Authorization values
		ctxCaller string   // a Ziti caller already in the context
		code      int
		challenge string
		body      string
	}{
		{"no token", "/api/v3/reading", nil, "", 401, `Bearer realm="ztedge"`, ""},
		{"basic auth", "/api/v3/reading", []string{"Basic YWRtaW46YWRtaW4="}, "", 401, `Bearer realm="ztedge"`, ""},
		{"empty bearer", "/api/v3/reading", []string{"Bearer "}, "", 401, `Bearer realm="ztedge", error="invalid_token", error_description="malformed token"`, ""},
		{"expired token", "/api/v3/reading", []string{"Bearer " + expired}, "", 401, `Bearer realm="ztedge", error="invalid_token", error_description="token expired"`, ""},
		{"garbage", "/api/v3/reading", []string{"Bearer a.b.c"}, "", 401, `Bearer realm="ztedge", error="invalid_token", error_description="malformed token"`, ""},
		{"two headers", "/api/v3/reading", []string{"Bearer " + good, "Bearer " + good}, "", 401, `Bearer realm="ztedge", error="invalid_token", error_description="malformed token"`, ""},
		{"no name claim", "/api/v3/reading", []string{"Bearer " + noName}, "", 401, `Bearer realm="ztedge", error="invalid_token", error_description="malformed token"`, ""},
		{"token relayed by a trusted relay", "/api/v3/reading", []string{"Bearer " + good}, "gateway", 200, "", "core-data 6e0a1d3c-0000-4000-8000-000000000001 via gateway"},
		{"another peer's token (replay)", "/api/v3/reading", []string{"Bearer " + good}, "device-virtual", 401, `Bearer realm="ztedge", error="invalid_token", error_description="token does not belong to the connection's identity"`, ""},
		{"ping by POST is not exempt", pingPath + "#post", nil, "", 401, `Bearer realm="ztedge"`, ""},
		{"valid", "/api/v3/reading", []string{"Bearer " + good}, "", 200, "", "core-data 6e0a1d3c-0000-4000-8000-000000000001"},
		{"valid, lower-case scheme", "/api/v3/reading", []string{"bearer " + good}, "", 200, "", "core-data 6e0a1d3c-0000-4000-8000-000000000001"},
		{"valid, same Ziti caller", "/api/v3/reading", []string{"Bearer " + good}, "core-data", 200, "", "core-data 6e0a1d3c-0000-4000-8000-000000000001"},
		{"ping exempt", pingPath, nil, "", 200, "", " "},
		{"ping exempt with a bad token", pingPath, []string{"Bearer " + expired}, "", 200, "", " "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, path := http.MethodGet, tc.path
			if p, ok := strings.CutSuffix(path, "#post"); ok {
				method, path = http.MethodPost, p
			}
			r := httptest.NewRequest(method, path, nil)
			for _, v := range tc.header {
				r.Header.Add("Authorization", v)
			}
			if tc.ctxCaller != "" {
				r = r.WithContext(caller.With(r.Context(), caller.Info{Name: tc.ctxCaller, Source: caller.Overlay}))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.code, rec.Code, "status (body %s)", rec.Body)
			require.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"), "WWW-Authenticate")
			if tc.code == 200 {
				require.Equal(t, tc.body, rec.Body.String(), "body")
			}
			for _, v := range tc.header {
				tok := strings.TrimPrefix(v, "Bearer ")
				mustNotContainToken(t, rec.Header().Get("WWW-Authenticate")+rec.Body.String(), tok)
			}
		})
	}
	for _, tok := range []string{good, expired, noName} {
		mustNotContainToken(t, logs.String(), tok)
	}
}

// TestMiddlewareWithAllowCallers: caller.Allow works on JWT callers.
func TestMiddlewareWithAllowCallers(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(is.options())
	h := jwtauth.Middleware(v, jwtauth.MiddlewareOptions{})(caller.AllowVerified("device-virtual")(whoAmI()))
	for name, want := range map[string]int{"device-virtual": 200, "core-data": 403} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+is.token(is.ec, with(is.claims(), "name", name)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(t, want, rec.Code, "%s: status", name)
	}
}

func TestBearerTransport(t *testing.T) {
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Values("Authorization"))
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	var calls atomic.Int64
	tokens := jwtauth.TokenSourceFunc(func(ctx context.Context) (string, error) {
		calls.Add(1)
		return "own.jwt.token", nil
	})
	client := &http.Client{Transport: jwtauth.BearerTransport(nil, tokens)}

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, []string{"Bearer own.jwt.token"}, seen.Load(), "Authorization the server saw")
	require.Empty(t, req.Header.Get("Authorization"), "the caller's request was modified")

	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer caller-chosen")
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, []string{"Bearer caller-chosen"}, seen.Load(), "Authorization the server saw: want the caller's")
	require.EqualValues(t, 1, calls.Load(), "token source calls")

	// A failing token source fails the request and closes its body.
	failing := jwtauth.BearerTransport(http.DefaultTransport, jwtauth.TokenSourceFunc(func(ctx context.Context) (string, error) {
		return "", errors.New("vault unreachable")
	}))
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, _ = http.NewRequest(http.MethodPost, srv.URL, body)
	_, err = (&http.Client{Transport: failing}).Do(req)
	require.ErrorContains(t, err, "vault unreachable")
	require.True(t, body.closed.Load(), "request body not closed")
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestDiscover(t *testing.T) {
	docs := map[string]string{
		"/good/v1/identity/oidc/.well-known/openid-configuration":       `{"issuer":"http://vault:8200/v1/identity/oidc","jwks_uri":"http://vault:8200/v1/identity/oidc/.well-known/keys"}`,
		"/nouri/v1/identity/oidc/.well-known/openid-configuration":      `{"issuer":"http://vault:8200/v1/identity/oidc"}`,
		"/edgex/v1/identity/oidc/.well-known/openid-configuration":      `{"issuer":"/v1/identity/oidc","jwks_uri":"/v1/identity/oidc/.well-known/keys"}`,
		"/schemeless/v1/identity/oidc/.well-known/openid-configuration": `{"issuer":"/v1/identity/oidc","jwks_uri":"//evil.example/keys"}`,
		"/ftp/v1/identity/oidc/.well-known/openid-configuration":        `{"issuer":"ftp://vault/v1/identity/oidc","jwks_uri":"/keys"}`,
		"/garbage/v1/identity/oidc/.well-known/openid-configuration":    `<html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, doc)
	}))
	defer srv.Close()
	ctx := context.Background()
	iss, keys, err := jwtauth.Discover(ctx, srv.URL+"/good/", nil)
	require.NoError(t, err, "Discover")
	require.Equal(t, "http://vault:8200/v1/identity/oidc", iss, "Discover: issuer")
	require.Equal(t, "http://vault:8200/v1/identity/oidc/.well-known/keys", keys, "Discover: keys URL")
	// A Vault without api_addr (EdgeX's) names itself by path: the issuer
	// stays as it is, the keys are on the Vault asked.
	iss, keys, err = jwtauth.Discover(ctx, srv.URL+"/edgex", nil)
	require.NoError(t, err, "Discover of a path-only issuer")
	require.Equal(t, "/v1/identity/oidc", iss, "Discover of a path-only issuer: issuer")
	require.Equal(t, srv.URL+"/v1/identity/oidc/.well-known/keys", keys, "Discover of a path-only issuer: keys URL")
	for _, addr := range []string{srv.URL + "/nouri", srv.URL + "/schemeless", srv.URL + "/ftp", srv.URL + "/garbage", srv.URL + "/missing", "vault:8200", ""} {
		_, _, err := jwtauth.Discover(ctx, addr, nil)
		require.Error(t, err, "Discover(%q) succeeded", addr)
	}
}

// TestVaultIntrospectorProtocol checks the request VaultIntrospector sends
// and its re-login, against a fake Vault.
func TestVaultIntrospectorProtocol(t *testing.T) {
	const token = "header.payload.signature-of-the-token"
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/v1/identity/oidc/introspect" || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("X-Vault-Token") != "good-vault-token" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":["permission denied"]}`)
			return
		}
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch {
		case body["token"] == token && body["client_id"] == "edgex":
			_, _ = io.WriteString(w, `{"active":true}`)
		case body["token"] == "broken":
			_, _ = io.WriteString(w, `{}`)
		default:
			_, _ = io.WriteString(w, `{"active":false,"error":"unable to validate the token signature"}`)
		}
	}))
	defer srv.Close()
	intro := vaultIntrospector(t, srv.URL, "expired-vault-token")
	intro.ClientID = "edgex"
	intro.Logger = quietLogger()
	ctx := context.Background()

	_, err := intro.Introspect(ctx, token)
	require.Error(t, err, "a refused Vault token gave no error")
	mustNotContainToken(t, err.Error(), token)

	var relogins atomic.Int64
	intro.Relogin = func(ctx context.Context, c *vaultapi.Client) error {
		relogins.Add(1)
		c.SetToken("good-vault-token")
		return nil
	}
	active, err := intro.Introspect(ctx, token)
	require.NoError(t, err, "after relogin")
	require.True(t, active, "after relogin: active")
	require.EqualValues(t, 1, relogins.Load(), "after relogin: relogins")
	active, err = intro.Introspect(ctx, "other")
	require.NoError(t, err, "inactive token")
	require.False(t, active, "inactive token: active")
	_, err = intro.Introspect(ctx, "broken")
	require.Error(t, err, "an answer without active gave no error")
	require.EqualValues(t, 1, relogins.Load(), "relogins")
}

func TestBearerTransportSendsTheTokenOnlyToTheFirstOrigin(t *testing.T) {
	var stolen atomic.Value
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Store(r.Header.Get("Authorization"))
	}))
	defer evil.Close()
	var onPeer atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer own.jwt.token" {
			onPeer.Add(1)
		}
		switch r.URL.Path {
		case "/here":
			http.Redirect(w, r, "/there", http.StatusFound)
		case "/away":
			http.Redirect(w, r, evil.URL+"/steal", http.StatusFound)
		}
	}))
	defer peer.Close()
	tokens := jwtauth.TokenSourceFunc(func(context.Context) (string, error) { return "own.jwt.token", nil })
	client := &http.Client{Transport: jwtauth.BearerTransport(nil, tokens)}

	resp, err := client.Get(peer.URL + "/here")
	require.NoError(t, err)
	resp.Body.Close()
	require.EqualValues(t, 2, onPeer.Load(), "a redirect on the same origin keeps the token")

	resp, err = client.Get(peer.URL + "/away")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "", stolen.Load(), "the token followed a redirect to another origin")
}

// TestDiscoverAndKeysIgnoreTheEnvironmentProxy runs in a child process:
// net/http reads HTTP_PROXY once per process, so setting it in the middle
// of the package's tests would prove nothing.
func TestDiscoverAndKeysIgnoreTheEnvironmentProxy(t *testing.T) {
	if os.Getenv("ZTEDGE_TEST_PROXY_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiscoverAndKeysIgnoreTheEnvironmentProxy$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ZTEDGE_TEST_PROXY_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "PASS")
		return
	}
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		_, _ = io.WriteString(w, `{"issuer":"http://vault.example:8200/v1/identity/oidc","jwks_uri":"http://vault.example:8200/v1/identity/oidc/.well-known/keys"}`)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := jwtauth.Discover(ctx, "http://vault.example:8200", nil)
	require.Error(t, err, "vault.example does not resolve: only a proxy could have answered")
	_, err = jwtauth.NewVerifier(ctx, jwtauth.Options{Issuer: "http://vault.example:8200/v1/identity/oidc", Audiences: []string{"edgex"},
		KeysURL: "http://vault.example:8200/v1/identity/oidc/.well-known/keys"})
	require.Error(t, err)
	require.Zero(t, proxied.Load(), "discovery or keys went through HTTP_PROXY")
}

// answerWithoutRequest is a base transport that answers with a response of
// its own, without setting its Request (as a cache or a mock may).
type answerWithoutRequest struct{ next http.RoundTripper }

func (a answerWithoutRequest) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	return &http.Response{Status: resp.Status, StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body, ProtoMajor: 1, ProtoMinor: 1}, nil
}

func TestBearerTransportSendsNoTokenWhenTheRedirectChainIsUnknown(t *testing.T) {
	var stolen atomic.Value
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Store(r.Header.Get("Authorization"))
	}))
	defer evil.Close()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/steal", http.StatusFound)
	}))
	defer peer.Close()
	tokens := jwtauth.TokenSourceFunc(func(context.Context) (string, error) { return "own.jwt.token", nil })
	client := &http.Client{Transport: jwtauth.BearerTransport(answerWithoutRequest{http.DefaultTransport}, tokens)}
	resp, err := client.Get(peer.URL + "/away")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "", stolen.Load(), "the token followed a redirect whose origin was unknown")
}
