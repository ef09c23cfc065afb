package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

func TestVerifyAcceptsValidTokens(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(is.options())
	ctx := context.Background()
	for _, k := range []signingKey{is.ec, is.rsa} {
		t.Run(k.alg, func(t *testing.T) {
			c, err := v.Verify(ctx, is.token(k, is.claims()))
			require.NoError(t, err, "valid %s token refused", k.alg)
			now := is.clock.Now()
			assert.Equal(t, "core-data", c.Name)
			assert.Equal(t, testIssuer, c.Issuer)
			assert.NotEmpty(t, c.Subject)
			assert.Equal(t, []string{testAudience}, c.Audience)
			assert.WithinDuration(t, now, c.IssuedAt, 0, "iat")
			assert.WithinDuration(t, now.Add(time.Hour), c.ExpiresAt, 0, "exp")
			assert.True(t, c.NotBefore.IsZero(), "nbf %v, want none", c.NotBefore)
			assert.Equal(t, map[string]any{"namespace": "root"}, c.Extra, "extra claims")
		})
	}
	t.Run("no kid, key of the matching type", func(t *testing.T) {
		for _, k := range []signingKey{is.ec, is.rsa} {
			k.kid = ""
			_, err := v.Verify(ctx, is.token(k, is.claims()))
			require.NoError(t, err, "valid %s token without kid refused", k.alg)
		}
	})
	t.Run("audience array and leeway", func(t *testing.T) {
		now := is.clock.Now()
		claims := with(is.claims(), "aud", []string{"other", testAudience},
			"exp", now.Add(-3*time.Second).Unix(), // within the 5 s leeway
			"nbf", now.Add(3*time.Second).Unix(),
			"iat", now.Add(3*time.Second).Unix())
		_, err := v.Verify(ctx, is.token(is.ec, claims))
		require.NoError(t, err, "token within the leeway refused")
	})
}

// TestVerifyRefusesAttacks is the attack table: every token is refused
// with the expected reason, and the error never contains the token.
func TestVerifyRefusesAttacks(t *testing.T) {
	is := newIssuer(t)
	logs := &logBuffer{}
	opts := is.options()
	opts.Logger = logs.logger()
	v := is.verifier(opts)
	now := is.clock.Now()
	valid := is.claims()
	good := is.token(is.ec, valid)
	parts := strings.Split(good, ".")

	rsaPub := is.rsa.priv.Public()
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	require.NoError(t, err)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, _ := json.Marshal(is.rsa.jwk())
	ecDER, _ := x509.MarshalPKIXPublicKey(is.ec.priv.Public())
	hs := func(key []byte) func(string) []byte {
		return func(input string) []byte {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(input))
			return h.Sum(nil)
		}
	}
	signWith := func(k signingKey) func(string) []byte {
		return func(input string) []byte {
			sig, err := jwt.GetSigningMethod(k.alg).Sign(input, k.priv)
			require.NoError(t, err)
			return sig
		}
	}
	other := newECKey(t, "ec-1") // same kid, another key
	unknown := newECKey(t, "ec-unknown")
	es256 := signingKey{kid: "ec-1", alg: "ES256", priv: newP256(t)}

	big := strings.Repeat("A", 9<<10)
	bigHeader := map[string]any{"alg": "ES384", "kid": "ec-1", "pad": strings.Repeat("x", 2<<10)}

	tamperedPayload := base64.RawURLEncoding.EncodeToString(mustJSON(t, with(valid, "name", "core-command")))
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[10] ^= 1
	flipped := base64.RawURLEncoding.EncodeToString(sigBytes)

	cases := []struct {
		name  string
		token string
		want  error
	}{
		// Algorithm confusion.
		{"alg none, no signature", rawToken(t, map[string]any{"alg": "none"}, valid, nil), jwtauth.ErrAlgorithm},
		{"alg none with a signature", rawToken(t, map[string]any{"alg": "none", "kid": "ec-1"}, valid, nil) + "c2ln", jwtauth.ErrAlgorithm},
		{"alg NONE", rawToken(t, map[string]any{"alg": "NONE"}, valid, nil), jwtauth.ErrAlgorithm},
		{"alg missing", rawToken(t, map[string]any{"kid": "ec-1"}, valid, signWith(is.ec)), jwtauth.ErrAlgorithm},
		{"HS256 keyed with the RSA public key PEM", rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, valid, hs(pemBytes)), jwtauth.ErrAlgorithm},
		{"HS256 keyed with the RSA public key DER", rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, valid, hs(der)), jwtauth.ErrAlgorithm},
		{"HS256 keyed with the RSA JWK", rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, valid, hs(jwkJSON)), jwtauth.ErrAlgorithm},
		{"HS256 keyed with the EC public key, no kid", rawToken(t, map[string]any{"alg": "HS256"}, valid, hs(ecDER)), jwtauth.ErrAlgorithm},
		{"RS256 naming the EC key", rawToken(t, map[string]any{"alg": "RS256", "kid": "ec-1"}, valid, signWith(is.rsa)), jwtauth.ErrAlgorithm},
		{"ES256 naming the P-384 key", is.token(es256, valid), jwtauth.ErrAlgorithm},
		{"PS256 not in the allow-list", rawToken(t, map[string]any{"alg": "PS256", "kid": "rsa-1"}, valid, signWith(signingKey{alg: "PS256", priv: is.rsa.priv})), jwtauth.ErrAlgorithm},
		// Signature.
		{"tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], jwtauth.ErrSignature},
		{"flipped signature bit", parts[0] + "." + parts[1] + "." + flipped, jwtauth.ErrSignature},
		{"signature of another key with the same kid", is.token(other, valid), jwtauth.ErrSignature},
		{"signature cut short", parts[0] + "." + parts[1] + "." + parts[2][:40], jwtauth.ErrSignature},
		{"unknown kid", is.token(unknown, valid), jwtauth.ErrUnknownKey},
		// Claims.
		{"expired", is.token(is.ec, with(valid, "exp", now.Add(-10*time.Second).Unix())), jwtauth.ErrExpired},
		{"expired long ago", is.token(is.ec, with(valid, "exp", 1, "iat", 0)), jwtauth.ErrExpired},
		{"no exp", is.token(is.ec, with(valid, "exp", nil)), jwtauth.ErrMalformed},
		{"future nbf", is.token(is.ec, with(valid, "nbf", now.Add(time.Minute).Unix())), jwtauth.ErrNotYetValid},
		{"future iat", is.token(is.ec, with(valid, "iat", now.Add(time.Minute).Unix())), jwtauth.ErrIssuedInFuture},
		{"wrong iss", is.token(is.ec, with(valid, "iss", "http://evil.example/v1/identity/oidc")), jwtauth.ErrIssuer},
		{"iss with a trailing slash", is.token(is.ec, with(valid, "iss", testIssuer+"/")), jwtauth.ErrIssuer},
		{"no iss", is.token(is.ec, with(valid, "iss", nil)), jwtauth.ErrIssuer},
		{"wrong aud", is.token(is.ec, with(valid, "aud", "other")), jwtauth.ErrAudience},
		{"aud array without ours", is.token(is.ec, with(valid, "aud", []string{"a", "b"})), jwtauth.ErrAudience},
		{"no aud", is.token(is.ec, with(valid, "aud", nil)), jwtauth.ErrAudience},
		{"aud of the wrong type", is.token(is.ec, with(valid, "aud", 7)), jwtauth.ErrMalformed},
		{"exp of the wrong type", is.token(is.ec, with(valid, "exp", "tomorrow")), jwtauth.ErrMalformed},
		{"exp beyond year 9999", is.token(is.ec, with(valid, "exp", 1e18)), jwtauth.ErrMalformed},
		{"negative exp", is.token(is.ec, with(valid, "exp", -5)), jwtauth.ErrMalformed},
		{"name of the wrong type", is.token(is.ec, with(valid, "name", []string{"x"})), jwtauth.ErrMalformed},
		// Size.
		{"oversized token", is.token(is.ec, with(valid, "pad", big)), jwtauth.ErrTokenTooLarge},
		{"oversized header", rawToken(t, bigHeader, valid, signWith(is.ec)), jwtauth.ErrTokenTooLarge},
		// Garbage.
		{"empty", "", jwtauth.ErrMalformed},
		{"dot", ".", jwtauth.ErrMalformed},
		{"two dots", "..", jwtauth.ErrMalformed},
		{"a.b.c", "a.b.c", jwtauth.ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], jwtauth.ErrMalformed},
		{"four segments", good + ".x", jwtauth.ErrMalformed},
		{"not base64", "!!!.###.$$$", jwtauth.ErrMalformed},
		{"padding", parts[0] + "==." + parts[1] + "." + parts[2], jwtauth.ErrMalformed},
		{"newline in the signature", parts[0] + "." + parts[1] + "." + parts[2][:20] + "\n" + parts[2][20:], jwtauth.ErrMalformed},
		{"space", " " + good, jwtauth.ErrMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/", jwtauth.ErrMalformed},
		{"JSON null payload", rawToken(t, map[string]any{"alg": "ES384", "kid": "ec-1"}, "null", signWith(is.ec)), jwtauth.ErrMalformed},
		{"JSON array payload", rawToken(t, map[string]any{"alg": "ES384", "kid": "ec-1"}, "[]", signWith(is.ec)), jwtauth.ErrMalformed},
		{"payload with trailing data", rawToken(t, map[string]any{"alg": "ES384", "kid": "ec-1"}, `{"exp":1}{}`, signWith(is.ec)), jwtauth.ErrMalformed},
		{"payload not JSON", rawToken(t, map[string]any{"alg": "ES384", "kid": "ec-1"}, "hello", signWith(is.ec)), jwtauth.ErrMalformed},
		{"JSON null header", rawToken(t, "null", valid, signWith(is.ec)), jwtauth.ErrMalformed},
		{"header not JSON", rawToken(t, "{alg:ES384", valid, signWith(is.ec)), jwtauth.ErrMalformed},
		{"alg of the wrong type", rawToken(t, map[string]any{"alg": 384}, valid, signWith(is.ec)), jwtauth.ErrMalformed},
		{"critical header extension", rawToken(t, map[string]any{"alg": "ES384", "kid": "ec-1", "crit": []string{"b64"}, "b64": false}, valid, signWith(is.ec)), jwtauth.ErrMalformed},
		{"no signature", parts[0] + "." + parts[1] + ".", jwtauth.ErrMalformed},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(ctx, tc.token)
			require.Error(t, err, "accepted, claims %+v", c)
			require.ErrorIs(t, err, tc.want)
			var e *jwtauth.Error
			require.ErrorAs(t, err, &e)
			mustNotContainToken(t, err.Error(), tc.token)
		})
	}
	_, err = v.Verify(ctx, good)
	require.NoError(t, err, "the untampered token is refused")
	for _, tc := range cases {
		mustNotContainToken(t, logs.String(), tc.token)
	}
}

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func rsaKey1024() (*rsa.PublicKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return nil, err
	}
	return &k.PublicKey, nil
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestUnknownKidRefetchIsRateLimited: tokens with unknown kids trigger at
// most one JWKS fetch per RefetchInterval, shared by concurrent callers.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(is.options()) // RefetchInterval 30 s
	require.EqualValues(t, 1, is.fetches.Load(), "JWKS fetches by NewVerifier")
	ctx := context.Background()
	verifyUnknown := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			tok := is.token(newECKeyCached(t, fmt.Sprintf("unknown-%d", i%4)), is.claims())
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.Verify(ctx, tok)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.ErrorIs(t, err, jwtauth.ErrUnknownKey, "unknown kid")
		}
	}

	verifyUnknown(20) // within 30 s of the first fetch: no refetch
	require.EqualValues(t, 1, is.fetches.Load(), "JWKS fetches (no refetch within the interval)")
	is.clock.Advance(31 * time.Second)
	is.delay.Store(int64(50 * time.Millisecond)) // keep the fetch in flight while others arrive
	verifyUnknown(50)
	require.EqualValues(t, 2, is.fetches.Load(), "JWKS fetches (one shared refetch)")
	verifyUnknown(50)
	require.EqualValues(t, 2, is.fetches.Load(), "JWKS fetches (still 2)")
	is.clock.Advance(31 * time.Second)
	verifyUnknown(10)
	require.EqualValues(t, 3, is.fetches.Load(), "JWKS fetches")
	// Known keys still verify, and do not cause fetches.
	_, err := v.Verify(ctx, is.token(is.ec, is.claims()))
	require.NoError(t, err)
	require.EqualValues(t, 3, is.fetches.Load(), "JWKS fetches")
}

var (
	cachedKeysMu sync.Mutex
	cachedKeys   = map[string]signingKey{}
)

// newECKeyCached returns one key per kid for the whole test binary.
func newECKeyCached(t testing.TB, kid string) signingKey {
	cachedKeysMu.Lock()
	defer cachedKeysMu.Unlock()
	k, ok := cachedKeys[kid]
	if !ok {
		k = newECKey(t, kid)
		cachedKeys[kid] = k
	}
	return k
}

// TestKeyRotation: a new kid published in the JWKS is accepted after the
// refetch; a key withdrawn from the JWKS stops verifying new tokens.
func TestKeyRotation(t *testing.T) {
	is := newIssuer(t)
	opts := is.options()
	opts.CacheSize = -1
	v := is.verifier(opts)
	ctx := context.Background()
	next := newECKey(t, "ec-2")
	is.publish(is.ec, next)
	tok := is.token(next, is.claims())

	_, err := v.Verify(ctx, tok)
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey, "before the refetch interval")
	is.clock.Advance(30 * time.Second)
	c, err := v.Verify(ctx, is.token(next, is.claims()))
	require.NoError(t, err, "token of the rotated key refused after the interval")
	require.Equal(t, "core-data", c.Name)
	require.EqualValues(t, 2, is.fetches.Load(), "JWKS fetches")
	// The old key is still published: its tokens verify without a fetch.
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	require.NoError(t, err)
	// Withdraw the old key; after the next refetch its tokens are unknown.
	is.publish(next)
	is.clock.Advance(31 * time.Second)
	_, err = v.Verify(ctx, is.token(newECKeyCached(t, "trigger"), is.claims()))
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey, "token of a withdrawn key")
}

// TestJWKSUnreachableAfterStart: a failed refetch keeps the previous keys.
func TestJWKSUnreachableAfterStart(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(is.options())
	is.srv.Close()
	is.clock.Advance(time.Minute)
	ctx := context.Background()
	_, err := v.Verify(ctx, is.token(newECKeyCached(t, "x"), is.claims()))
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	require.NoError(t, err, "known key refused after a failed refetch")
}

func TestCache(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()

	t.Run("hit", func(t *testing.T) {
		intro := &countingIntrospector{}
		intro.active.Store(true)
		opts := is.options()
		opts.Mode, opts.Introspector = jwtauth.Both, intro
		v := is.verifier(opts)
		tok := is.token(is.ec, is.claims())
		c1, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		c1.Audience[0] = "changed by the caller"
		c1.Extra["namespace"] = "changed"
		for range 10 {
			c, err := v.Verify(ctx, tok)
			require.NoError(t, err)
			require.Equal(t, testAudience, c.Audience[0], "cached claims were changed through a returned copy")
			require.Equal(t, "root", c.Extra["namespace"], "cached claims were changed through a returned copy")
		}
		require.EqualValues(t, 1, intro.calls.Load(), "introspections (then cache hits)")
		// Revocation is not seen while cached; a new token is introspected.
		intro.active.Store(false)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err, "cached token")
		is.clock.Advance(time.Second)
		_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
		require.ErrorIs(t, err, jwtauth.ErrInactive, "new token Vault calls inactive")
	})

	t.Run("expiry", func(t *testing.T) {
		intro := &countingIntrospector{}
		intro.active.Store(true)
		opts := is.options()
		opts.Mode, opts.Introspector = jwtauth.Both, intro
		v := is.verifier(opts)
		now := is.clock.Now()
		tok := is.token(is.ec, with(is.claims(), "exp", now.Add(10*time.Second).Unix()))
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		is.clock.Advance(9 * time.Second)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err, "cached token before exp")
		require.EqualValues(t, 1, intro.calls.Load(), "introspections")
		is.clock.Advance(2 * time.Second) // past exp, within the 5 s leeway: checked afresh
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err, "token within the leeway")
		require.EqualValues(t, 2, intro.calls.Load(), "introspections (the cache ends at exp)")
		is.clock.Advance(5 * time.Second) // beyond exp + leeway
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, jwtauth.ErrExpired, "cached token past exp")
		require.EqualValues(t, 2, intro.calls.Load(), "introspections")
	})

	t.Run("CacheTTL", func(t *testing.T) {
		intro := &countingIntrospector{}
		intro.active.Store(true)
		opts := is.options()
		opts.Mode, opts.Introspector, opts.CacheTTL = jwtauth.Introspect, intro, time.Minute
		opts.KeysURL = ""
		v := is.verifier(opts)
		tok := is.token(is.ec, is.claims())
		for range 3 {
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)
		}
		is.clock.Advance(61 * time.Second)
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		require.EqualValues(t, 2, intro.calls.Load(), "introspections")
	})

	t.Run("off", func(t *testing.T) {
		intro := &countingIntrospector{}
		intro.active.Store(true)
		opts := is.options()
		opts.Mode, opts.Introspector, opts.CacheSize = jwtauth.Both, intro, -1
		v := is.verifier(opts)
		tok := is.token(is.ec, is.claims())
		for range 3 {
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)
		}
		require.EqualValues(t, 3, intro.calls.Load(), "introspections")
	})

	t.Run("bounded", func(t *testing.T) {
		intro := &countingIntrospector{}
		intro.active.Store(true)
		opts := is.options()
		opts.Mode, opts.Introspector, opts.CacheSize = jwtauth.Both, intro, 2
		v := is.verifier(opts)
		var toks []string
		for i := range 3 {
			toks = append(toks, is.token(is.ec, with(is.claims(), "jti", fmt.Sprint(i))))
		}
		for _, tok := range toks {
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)
		}
		// toks[0] was evicted (oldest first); toks[1] and toks[2] are cached.
		for _, tok := range []string{toks[2], toks[1]} {
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)
		}
		require.EqualValues(t, 3, intro.calls.Load(), "introspections")
		_, err := v.Verify(ctx, toks[0])
		require.NoError(t, err)
		require.EqualValues(t, 4, intro.calls.Load(), "introspections (evicted entry)")
	})
}

func TestIntrospectMode(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	logs := &logBuffer{}
	intro := &countingIntrospector{}
	opts := is.options()
	opts.Mode, opts.Introspector, opts.KeysURL, opts.Logger = jwtauth.Introspect, intro, "", logs.logger()
	v := is.verifier(opts)

	tok := is.token(is.ec, is.claims())
	intro.active.Store(true)
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Zero(t, is.fetches.Load(), "introspect mode fetched the JWKS")
	// The payload is still checked, before asking the introspector.
	for _, bad := range []map[string]any{
		with(is.claims(), "iss", "http://evil"),
		with(is.claims(), "aud", "other"),
		with(is.claims(), "exp", is.clock.Now().Add(-time.Minute).Unix()),
	} {
		_, err := v.Verify(ctx, is.token(is.ec, bad))
		require.Error(t, err, "accepted bad claims %v", bad)
	}
	require.EqualValues(t, 1, intro.calls.Load(), "introspections")
	intro.active.Store(false)
	_, err = v.Verify(ctx, is.token(is.rsa, is.claims()))
	require.ErrorIs(t, err, jwtauth.ErrInactive, "inactive")
	// Vault unreachable: fail closed, log without the token.
	failing := &countingIntrospector{err: errors.New("dial tcp 127.0.0.1:8200: connection refused")}
	opts.Introspector = failing
	v = is.verifier(opts)
	tok = is.token(is.rsa, is.claims())
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, jwtauth.ErrIntrospection)
	require.ErrorContains(t, err, "connection refused")
	require.Contains(t, logs.String(), "token introspection failed", "introspection failure not logged")
	mustNotContainToken(t, logs.String(), tok)
	mustNotContainToken(t, err.Error(), tok)
	// Both mode: a bad signature is refused before asking the introspector.
	opts.Mode, opts.KeysURL, opts.Introspector = jwtauth.Both, is.keysURL(), intro
	intro.calls.Store(0)
	v = is.verifier(opts)
	_, err = v.Verify(ctx, is.token(newECKeyCached(t, "ec-1-forged"), is.claims()))
	require.Error(t, err, "forged token accepted in Both mode")
	require.Zero(t, intro.calls.Load(), "introspected a forged token")
}

func TestNewVerifierRefusesBadOptions(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	cases := map[string]func(*jwtauth.Options){
		"alg none":                    func(o *jwtauth.Options) { o.Algorithms = []string{"ES384", "none"} },
		"HS256":                       func(o *jwtauth.Options) { o.Algorithms = []string{"HS256"} },
		"hs512 lower case":            func(o *jwtauth.Options) { o.Algorithms = []string{"RS256", "hs512"} },
		"unknown alg":                 func(o *jwtauth.Options) { o.Algorithms = []string{"ES999"} },
		"no issuer":                   func(o *jwtauth.Options) { o.Issuer = "" },
		"no audience":                 func(o *jwtauth.Options) { o.Audiences = nil },
		"empty audience":              func(o *jwtauth.Options) { o.Audiences = []string{""} },
		"no keys URL":                 func(o *jwtauth.Options) { o.KeysURL = "" },
		"relative keys URL":           func(o *jwtauth.Options) { o.KeysURL = "/keys" },
		"leeway too large":            func(o *jwtauth.Options) { o.Leeway = 6 * time.Minute },
		"negative leeway":             func(o *jwtauth.Options) { o.Leeway = -time.Second },
		"unknown mode":                func(o *jwtauth.Options) { o.Mode = 7 },
		"introspect, no introspector": func(o *jwtauth.Options) { o.Mode = jwtauth.Introspect },
		"both, no introspector":       func(o *jwtauth.Options) { o.Mode = jwtauth.Both },
		"huge cache":                  func(o *jwtauth.Options) { o.CacheSize = 1 << 30 },
		"negative token size":         func(o *jwtauth.Options) { o.MaxTokenSize = -1 },
		"JWKS unreachable": func(o *jwtauth.Options) {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			o.KeysURL = srv.URL + "/keys"
		},
		"JWKS not found": func(o *jwtauth.Options) { o.KeysURL = is.srv.URL + "/nope" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			opts := is.options()
			edit(&opts)
			v, err := jwtauth.NewVerifier(ctx, opts)
			require.Error(t, err, "accepted")
			require.Nil(t, v, "a verifier besides the error")
		})
	}
}

func TestJWKSContents(t *testing.T) {
	ctx := context.Background()
	ec := newECKey(t, "ec")
	serve := func(t *testing.T, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ecJSON := string(mustJSON(t, ec.jwk()))
	small, err := rsaKey1024()
	require.NoError(t, err)
	smallJSON := string(mustJSON(t, jose.JSONWebKey{Key: small, KeyID: "small", Use: "sig"}))
	octJSON := `{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`
	encJSON := strings.Replace(ecJSON, `"use":"sig"`, `"use":"enc"`, 1)

	refused := map[string]string{
		"not JSON":          "<html>",
		"no keys":           `{"keys":[]}`,
		"only a secret key": `{"keys":[` + octJSON + `]}`,
		"only a small RSA":  `{"keys":[` + smallJSON + `]}`,
		"only an enc key":   `{"keys":[` + encJSON + `]}`,
		"unknown kty":       `{"keys":[{"kty":"XYZ","kid":"x"}]}`,
	}
	for name, body := range refused {
		t.Run(name, func(t *testing.T) {
			opts := jwtauth.Options{Issuer: testIssuer, Audiences: []string{testAudience}, KeysURL: serve(t, body), Logger: quietLogger()}
			_, err := jwtauth.NewVerifier(ctx, opts)
			require.Error(t, err, "accepted a JWKS without usable keys")
		})
	}
	t.Run("usable keys among unusable ones", func(t *testing.T) {
		body := `{"keys":[` + octJSON + `,` + smallJSON + `,{"kty":"XYZ"},` + ecJSON + `]}`
		clk := newClock()
		opts := jwtauth.Options{Issuer: testIssuer, Audiences: []string{testAudience}, KeysURL: serve(t, body), Logger: quietLogger(), Now: clk.Now}
		v, err := jwtauth.NewVerifier(ctx, opts)
		require.NoError(t, err)
		claims := map[string]any{"iss": testIssuer, "aud": testAudience, "name": "x", "exp": clk.Now().Add(time.Hour).Unix()}
		_, err = v.Verify(ctx, signToken(t, ec, claims))
		require.NoError(t, err)
		// An HS256 token keyed with the published secret is refused.
		hsTok := rawToken(t, map[string]any{"alg": "HS256", "kid": "oct"}, claims, func(in string) []byte {
			h := hmac.New(sha256.New, []byte("secret"))
			h.Write([]byte(in))
			return h.Sum(nil)
		})
		_, err = v.Verify(ctx, hsTok)
		require.ErrorIs(t, err, jwtauth.ErrAlgorithm, "HS256 with the published secret")
	})
}

// Every error of the package's exported functions starts with
// "jwtauth: ", once; the refusal reasons keep their own text, which
// challenges and metrics use.
func TestErrorsCarryThePrefixOnce(t *testing.T) {
	ctx := context.Background()
	is := newIssuer(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer broken.Close()
	intro := vaultIntrospector(t, broken.URL, "vault-token")

	errs := map[string]error{}
	bad := is.options()
	bad.Issuer = ""
	_, errs["NewVerifier options"] = jwtauth.NewVerifier(ctx, bad)
	unreachable := is.options()
	unreachable.KeysURL = is.srv.URL + "/nope"
	_, errs["NewVerifier keys"] = jwtauth.NewVerifier(ctx, unreachable)
	_, _, errs["Discover address"] = jwtauth.Discover(ctx, "vault:8200", nil)
	_, _, errs["Discover status"] = jwtauth.Discover(ctx, is.srv.URL+"/nope", nil)
	_, errs["VaultIntrospector.Introspect"] = intro.Introspect(ctx, "a-token")
	v := is.verifier(is.options())
	_, errs["Verify malformed"] = v.Verify(ctx, "not-a-token")
	_, errs["Verify expired"] = v.Verify(ctx, is.token(is.ec, with(is.claims(), "exp", is.clock.Now().Add(-time.Hour).Unix())))
	opts := is.options()
	opts.Mode, opts.Introspector, opts.KeysURL, opts.Logger = jwtauth.Introspect, intro, "", quietLogger()
	_, errs["Verify introspection"] = is.verifier(opts).Verify(ctx, is.token(is.ec, is.claims()))
	_, errs["VerifyRequest"] = jwtauth.VerifyRequest(v, httptest.NewRequest(http.MethodGet, "/", nil))
	for name, err := range errs {
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "jwtauth: "), "%s: %v", name, err)
		assert.Equal(t, 1, strings.Count(err.Error(), "jwtauth: "), "%s: %v", name, err)
	}
	assert.ErrorIs(t, errs["Verify expired"], jwtauth.ErrExpired)
	assert.EqualError(t, errs["Verify expired"], "jwtauth: token expired")
	assert.Equal(t, "token expired", jwtauth.Reason(errs["Verify expired"]), "the reason has no prefix")
	assert.ErrorIs(t, errs["Verify introspection"], jwtauth.ErrIntrospection)
	assert.ErrorContains(t, errs["Verify introspection"], "jwtauth: token introspection failed: vault token introspection at ")
	assert.ErrorIs(t, errs["VerifyRequest"], jwtauth.ErrNoToken)
}
