package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/jwtauth"
)

const (
	testIssuer   = "http://127.0.0.1:8200/v1/identity/oidc"
	testAudience = "edgex"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0).UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signingKey is a private key and the kid it is published under.
type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func (k signingKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	return signingKey{kid: kid, alg: "ES384", priv: priv}
}

func newRSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return signingKey{kid: kid, alg: "RS256", priv: priv}
}

// issuer is a fake Vault identity issuer: a JWKS served by httptest that
// counts its fetches.
type issuer struct {
	t       testing.TB
	clock   *clock
	ec, rsa signingKey
	srv     *httptest.Server
	fetches atomic.Int64
	delay   atomic.Int64 // nanoseconds each JWKS answer waits

	mu           sync.Mutex
	jwks         []byte
	cacheControl string // the Cache-Control header of JWKS answers
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	is := &issuer{t: t, clock: newClock(), ec: newECKey(t, "ec-1"), rsa: newRSAKey(t, "rsa-1")}
	is.publish(is.ec, is.rsa)
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/identity/oidc/.well-known/keys" {
			http.NotFound(w, r)
			return
		}
		is.fetches.Add(1)
		time.Sleep(time.Duration(is.delay.Load()))
		is.mu.Lock()
		body, cc := is.jwks, is.cacheControl
		is.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

// publish replaces the served JWKS with the public halves of keys.
func (is *issuer) publish(keys ...signingKey) {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, err := json.Marshal(set)
	require.NoError(is.t, err)
	is.mu.Lock()
	is.jwks = b
	is.mu.Unlock()
}

func (is *issuer) keysURL() string { return is.srv.URL + "/v1/identity/oidc/.well-known/keys" }

// options are Local-mode options against this issuer.
func (is *issuer) options() jwtauth.Options {
	return jwtauth.Options{
		Issuer:    testIssuer,
		Audiences: []string{testAudience},
		KeysURL:   is.keysURL(),
		Now:       is.clock.Now,
		Logger:    quietLogger(),
	}
}

func (is *issuer) verifier(opts jwtauth.Options) *jwtauth.Verifier {
	is.t.Helper()
	v, err := jwtauth.NewVerifier(context.Background(), opts)
	require.NoError(is.t, err)
	return v
}

// claims are the claims of a valid token issued now.
func (is *issuer) claims() map[string]any {
	now := is.clock.Now()
	return map[string]any{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       "6e0a1d3c-0000-4000-8000-000000000001",
		"name":      "core-data",
		"namespace": "root",
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
	}
}

// token signs claims with k (kid in the header unless empty).
func (is *issuer) token(k signingKey, claims map[string]any) string {
	is.t.Helper()
	return signToken(is.t, k, claims)
}

func signToken(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), jwt.MapClaims(claims))
	if k.kid != "" {
		tok.Header["kid"] = k.kid
	}
	s, err := tok.SignedString(k.priv)
	require.NoError(t, err)
	return s
}

// rawToken assembles a token from a header and claims, JSON-encoded, and
// a signature made by sign over the signing input (none when nil).
func rawToken(t testing.TB, header, claims any, sign func(input string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return base64.RawURLEncoding.EncodeToString([]byte(s))
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// with returns a copy of m with the given changes; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// vaultIntrospector returns a VaultIntrospector asking the (fake) Vault
// at addr with vaultToken, without retries.
func vaultIntrospector(t testing.TB, addr, vaultToken string) *jwtauth.VaultIntrospector {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	client, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	client.SetToken(vaultToken)
	return jwtauth.NewVaultIntrospector(client)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer is a logger writing to a buffer, to check that logs hold no token.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// mustNotContainToken fails when s contains the token or its signature.
func mustNotContainToken(t testing.TB, s, token string) {
	t.Helper()
	if token == "" {
		return
	}
	require.NotContains(t, s, token, "text contains the token")
	if i := strings.LastIndexByte(token, '.'); i >= 0 && len(token)-i > 16 {
		require.NotContains(t, s, token[i+1:], "text contains the token's signature")
	}
}

// countingIntrospector answers active and counts its calls.
type countingIntrospector struct {
	calls  atomic.Int64
	active atomic.Bool
	err    error
}

func (c *countingIntrospector) Introspect(ctx context.Context, token string) (bool, error) {
	c.calls.Add(1)
	return c.active.Load(), c.err
}
