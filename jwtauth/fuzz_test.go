package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/jwtauth"
)

// The fuzz target runs against fixed keys (testdata/fuzzkeys.pem, test-only
// keys) and a fixed clock, so that the seed corpus in
// testdata/fuzz/FuzzVerify holds tokens that are valid and stay valid.
// testdata/fuzz-valid.txt lists the valid ones: the only tokens the
// verifier may ever accept. Regenerate both with
//
//	go test ./jwtauth -run TestFuzzCorpus -args -update-fuzz-corpus

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the FuzzVerify seed corpus and testdata/fuzz-valid.txt")

const (
	fuzzKeysFile  = "testdata/fuzzkeys.pem"
	fuzzValidFile = "testdata/fuzz-valid.txt"
	fuzzCorpusDir = "testdata/fuzz/FuzzVerify"
)

var fuzzNow = time.Unix(1_800_000_000, 0).UTC()

// fuzzKeys reads the fixed ES384 and RS256 keys.
func fuzzKeys(t testing.TB) (ec, rsa signingKey) {
	t.Helper()
	data, err := os.ReadFile(fuzzKeysFile)
	require.NoError(t, err)
	var keys []crypto.Signer
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		require.NoError(t, err)
		keys = append(keys, k.(crypto.Signer))
	}
	require.Len(t, keys, 2, "%s: want an EC and an RSA key", fuzzKeysFile)
	return signingKey{kid: "fuzz-ec", alg: "ES384", priv: keys[0]}, signingKey{kid: "fuzz-rsa", alg: "RS256", priv: keys[1]}
}

// staticTransport answers every request with body.
type staticTransport []byte

func (s staticTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(s)), Request: r}, nil
}

// fuzzVerifier is a Local-mode verifier for the fixed keys at fuzzNow; its
// JWKS is served from memory.
func fuzzVerifier(t testing.TB) *jwtauth.Verifier {
	t.Helper()
	ec, rsa := fuzzKeys(t)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ec.jwk(), rsa.jwk()}})
	require.NoError(t, err)
	v, err := jwtauth.NewVerifier(context.Background(), jwtauth.Options{
		Issuer:     testIssuer,
		Audiences:  []string{testAudience},
		KeysURL:    "http://jwks.invalid/keys",
		HTTPClient: &http.Client{Transport: staticTransport(jwks)},
		Now:        func() time.Time { return fuzzNow },
		Logger:     quietLogger(),
	})
	require.NoError(t, err)
	return v
}

// fuzzSeeds builds the seed corpus: valid tokens and attack shapes.
func fuzzSeeds(t testing.TB) (valid, attacks map[string]string) {
	ec, rsa := fuzzKeys(t)
	claims := map[string]any{
		"iss": testIssuer, "aud": testAudience, "name": "core-data", "namespace": "root",
		"sub": "6e0a1d3c-0000-4000-8000-000000000001",
		"iat": fuzzNow.Add(-time.Minute).Unix(), "exp": fuzzNow.Add(time.Hour).Unix(),
	}
	noKid := ec
	noKid.kid = ""
	valid = map[string]string{
		"valid-es384":       signToken(t, ec, claims),
		"valid-rs256":       signToken(t, rsa, claims),
		"valid-es384-nokid": signToken(t, noKid, claims),
	}
	good := valid["valid-es384"]
	parts := strings.Split(good, ".")
	sign := func(k signingKey) func(string) []byte {
		return func(in string) []byte {
			sig, err := jwtSign(k, in)
			require.NoError(t, err)
			return sig
		}
	}
	hs := func(key []byte) func(string) []byte {
		return func(in string) []byte {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(in))
			return h.Sum(nil)
		}
	}
	der, _ := x509.MarshalPKIXPublicKey(rsa.priv.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ecDER, _ := x509.MarshalPKIXPublicKey(ec.priv.Public())
	ecHdr := map[string]any{"alg": "ES384", "kid": "fuzz-ec"}
	flipped, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flipped[5] ^= 0x40
	unknown := ec
	unknown.kid = "fuzz-unknown"

	attacks = map[string]string{
		"alg-none":           rawToken(t, map[string]any{"alg": "none"}, claims, nil),
		"alg-none-signed":    rawToken(t, map[string]any{"alg": "none", "kid": "fuzz-ec"}, claims, sign(ec)),
		"hs256-rsa-pem":      rawToken(t, map[string]any{"alg": "HS256", "kid": "fuzz-rsa"}, claims, hs(pemKey)),
		"hs256-rsa-der":      rawToken(t, map[string]any{"alg": "HS256", "kid": "fuzz-rsa"}, claims, hs(der)),
		"hs256-ec-nokid":     rawToken(t, map[string]any{"alg": "HS256"}, claims, hs(ecDER)),
		"rs256-naming-ec":    rawToken(t, map[string]any{"alg": "RS256", "kid": "fuzz-ec"}, claims, sign(rsa)),
		"es384-naming-rsa":   rawToken(t, map[string]any{"alg": "ES384", "kid": "fuzz-rsa"}, claims, sign(ec)),
		"tampered-payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, with(claims, "name", "core-command"))) + "." + parts[2],
		"flipped-signature":  parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(flipped),
		"signature-appended": good + "A",
		"expired":            signToken(t, ec, with(claims, "exp", fuzzNow.Add(-time.Minute).Unix())),
		"future-nbf":         signToken(t, ec, with(claims, "nbf", fuzzNow.Add(time.Minute).Unix())),
		"future-iat":         signToken(t, ec, with(claims, "iat", fuzzNow.Add(time.Minute).Unix())),
		"wrong-iss":          signToken(t, ec, with(claims, "iss", "http://127.0.0.1:8201/v1/identity/oidc")),
		"wrong-aud":          signToken(t, ec, with(claims, "aud", "edgex2")),
		"aud-array":          signToken(t, ec, with(claims, "aud", []string{"x", "y"})),
		"aud-number":         signToken(t, ec, with(claims, "aud", 5)),
		"exp-float":          signToken(t, ec, with(claims, "exp", float64(fuzzNow.Unix())-5.5)),
		"exp-huge":           signToken(t, ec, with(claims, "exp", 1e300)),
		"no-exp":             signToken(t, ec, with(claims, "exp", nil)),
		"unknown-kid":        signToken(t, unknown, claims),
		"oversized-token":    signToken(t, ec, with(claims, "pad", strings.Repeat("p", 9<<10))),
		"oversized-header":   rawToken(t, map[string]any{"alg": "ES384", "kid": "fuzz-ec", "pad": strings.Repeat("h", 1<<10)}, claims, sign(ec)),
		"crit-header":        rawToken(t, map[string]any{"alg": "ES384", "kid": "fuzz-ec", "crit": []string{"exp"}}, claims, sign(ec)),
		"null-payload":       rawToken(t, ecHdr, "null", sign(ec)),
		"null-header":        rawToken(t, "null", claims, sign(ec)),
		"array-payload":      rawToken(t, ecHdr, "[1,2]", sign(ec)),
		"trailing-json":      rawToken(t, ecHdr, `{"exp":1}x`, sign(ec)),
		"padding":            parts[0] + "=." + parts[1] + "." + parts[2],
		"newline":            parts[0] + "." + parts[1] + ".\n" + parts[2],
		"empty":              "",
		"dot":                ".",
		"dots":               "..",
		"abc":                "a.b.c",
		"non-base64":         "eyJ!.eyJ#.$$$",
		"unicode":            "ñ.ü.€",
	}
	return valid, attacks
}

func jwtSign(k signingKey, in string) ([]byte, error) {
	return jwt.GetSigningMethod(k.alg).Sign(in, k.priv)
}

// TestFuzzCorpus checks (or, with -update-fuzz-corpus, rewrites) the seed
// corpus: the listed valid tokens verify, every other seed is refused.
func TestFuzzCorpus(t *testing.T) {
	if *updateFuzzCorpus {
		valid, attacks := fuzzSeeds(t)
		require.NoError(t, os.RemoveAll(fuzzCorpusDir))
		require.NoError(t, os.MkdirAll(fuzzCorpusDir, 0o755))
		var list []string
		for name, tok := range valid {
			list = append(list, tok)
			writeSeed(t, name, tok)
		}
		for name, tok := range attacks {
			writeSeed(t, name, tok)
		}
		slices.Sort(list)
		require.NoError(t, os.WriteFile(fuzzValidFile, []byte(strings.Join(list, "\n")+"\n"), 0o644))
	}
	v := fuzzVerifier(t)
	valid := validFuzzTokens(t)
	seeds := readSeeds(t)
	require.GreaterOrEqual(t, len(seeds), 30, "seeds in %s", fuzzCorpusDir)
	ctx := context.Background()
	accepted := 0
	for name, tok := range seeds {
		_, err := v.Verify(ctx, tok)
		if !valid[tok] {
			assert.Error(t, err, "attack seed %s accepted", name)
		} else if assert.NoError(t, err, "valid seed %s refused", name) {
			accepted++
		}
	}
	assert.Equal(t, len(valid), accepted, "valid seeds accepted")
}

func writeSeed(t testing.TB, name, tok string) {
	t.Helper()
	body := "go test fuzz v1\nstring(" + strconv.Quote(tok) + ")\n"
	require.NoError(t, os.WriteFile(filepath.Join(fuzzCorpusDir, name), []byte(body), 0o644))
}

// readSeeds reads the seed corpus files (each holds one string).
func readSeeds(t testing.TB) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(fuzzCorpusDir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(fuzzCorpusDir, e.Name()))
		require.NoError(t, err)
		lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
		require.Len(t, lines, 2, "%s: not a one-string corpus file", e.Name())
		require.Equal(t, "go test fuzz v1", lines[0], "%s: not a one-string corpus file", e.Name())
		require.True(t, strings.HasPrefix(lines[1], "string(") && strings.HasSuffix(lines[1], ")"), "%s: not a one-string corpus file", e.Name())
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		require.NoError(t, err, "%s", e.Name())
		out[e.Name()] = s
	}
	return out
}

var (
	validOnce   sync.Once
	validTokens map[string]bool
)

// validFuzzTokens reads testdata/fuzz-valid.txt.
func validFuzzTokens(t testing.TB) map[string]bool {
	validOnce.Do(func() {
		data, err := os.ReadFile(fuzzValidFile)
		if err != nil {
			panic(err)
		}
		validTokens = map[string]bool{}
		for _, l := range strings.Fields(string(data)) {
			validTokens[l] = true
		}
	})
	require.NotEmpty(t, validTokens, "%s lists no valid token", fuzzValidFile)
	return validTokens
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must
// refuse with a *jwtauth.Error that does not quote the token, and must
// accept nothing but the listed valid seeds.
func FuzzVerify(f *testing.F) {
	v := fuzzVerifier(f)
	valid := validFuzzTokens(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(ctx, tok)
		if err == nil {
			require.True(t, valid[tok], "accepted a token that is not a valid seed: %q", tok)
			require.Equal(t, "core-data", c.Name, "claims %+v", c)
			require.False(t, c.ExpiresAt.IsZero(), "claims without exp: %+v", c)
			return
		}
		var e *jwtauth.Error
		require.ErrorAs(t, err, &e)
		require.NotNil(t, e.Reason, "error %v has no reason", err)
		if len(tok) >= 24 {
			require.NotContains(t, err.Error(), tok, "error quotes the token")
		}
	})
}
