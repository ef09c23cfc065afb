package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/jwtauth"
)

// waitFetches waits until the issuer served n JWKS answers.
func waitFetches(t *testing.T, is *issuer, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return is.fetches.Load() >= n }, 5*time.Second, 10*time.Millisecond)
}

func TestKeysAreRefreshedSoARotatedOutKeyStopsVerifying(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	opts := is.options()
	opts.CacheSize = -1 // every Verify checks the signature
	v := is.verifier(opts)
	require.Equal(t, int64(1), is.fetches.Load())
	old := is.ec
	_, err := v.Verify(ctx, is.token(old, is.claims()))
	require.NoError(t, err)

	// Vault rotates ec-1 out.
	is.ec = newECKey(t, "ec-2")
	is.publish(is.ec, is.rsa)

	// Before 4/5 of the max-age nothing is fetched: ec-1 still verifies.
	is.clock.Advance(7 * time.Minute)
	_, err = v.Verify(ctx, is.token(old, is.claims()))
	require.NoError(t, err)
	assert.Equal(t, int64(1), is.fetches.Load())

	// After 4/5 a fetch starts in the background.
	is.clock.Advance(2 * time.Minute)
	_, _ = v.Verify(ctx, is.token(old, is.claims()))
	waitFetches(t, is, 2)
	// The issuer has answered; the verifier takes the new set moments later.
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, is.token(old, is.claims()))
		return errors.Is(err, jwtauth.ErrUnknownKey)
	}, 5*time.Second, 10*time.Millisecond, "a key the issuer no longer publishes must stop verifying")
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	assert.NoError(t, err)
}

func TestKeysPastMaxAgeAreFetchedBeforeUse(t *testing.T) {
	is := newIssuer(t)
	is.mu.Lock()
	is.cacheControl = "public, max-age=60"
	is.mu.Unlock()
	ctx := context.Background()
	opts := is.options()
	opts.CacheSize = -1
	v := is.verifier(opts)
	old := is.ec
	is.ec = newECKey(t, "ec-2")
	is.publish(is.ec, is.rsa)

	// The JWKS said max-age=60: after 61 s the keys are fetched first.
	is.clock.Advance(61 * time.Second)
	_, err := v.Verify(ctx, is.token(old, is.claims()))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.Equal(t, int64(2), is.fetches.Load())

	// While the issuer cannot be reached the old keys stay in use, and a
	// failed fetch is not retried on every request.
	is.clock.Advance(2 * time.Minute)
	is.srv.Close()
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	assert.NoError(t, err)
	_, err = v.Verify(ctx, is.token(is.ec, is.claims()))
	assert.NoError(t, err)
}

func TestKeysMaxAgeBounds(t *testing.T) {
	is := newIssuer(t)
	opts := is.options()
	opts.KeysMaxAge = time.Second
	_, err := jwtauth.NewVerifier(context.Background(), opts)
	assert.ErrorContains(t, err, "KeysMaxAge")
	opts.KeysMaxAge = 2 * time.Hour
	_, err = jwtauth.NewVerifier(context.Background(), opts)
	assert.ErrorContains(t, err, "KeysMaxAge")
}

func TestIntrospectedTokensAreRecheckedAndRefusalsRemembered(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	intro := &countingIntrospector{}
	intro.active.Store(true)
	opts := is.options()
	opts.Mode, opts.Introspector = jwtauth.Both, intro
	v := is.verifier(opts)

	tok := is.token(is.ec, with(is.claims(), "exp", is.clock.Now().Add(time.Hour).Unix()))
	for range 5 {
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), intro.calls.Load(), "cached between re-checks")

	// Vault now refuses it (its entity was disabled): seen within 30 s.
	intro.active.Store(false)
	is.clock.Advance(31 * time.Second)
	_, err := v.Verify(ctx, tok)
	assert.ErrorIs(t, err, jwtauth.ErrInactive)
	assert.Equal(t, int64(2), intro.calls.Load())

	// Repeated refusals of the same token do not each cost a Vault call.
	for range 20 {
		_, err = v.Verify(ctx, tok)
		assert.ErrorIs(t, err, jwtauth.ErrInactive)
	}
	assert.Equal(t, int64(2), intro.calls.Load())
	// After the re-check interval Vault is asked again.
	intro.active.Store(true)
	is.clock.Advance(31 * time.Second)
	_, err = v.Verify(ctx, tok)
	assert.NoError(t, err)
	assert.Equal(t, int64(3), intro.calls.Load())
}

// highSTwin returns the other valid signature of an ES* token: (r, n-s).
func highSTwin(t *testing.T, token string, k signingKey) string {
	t.Helper()
	i := strings.LastIndex(token, ".")
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	require.NoError(t, err)
	half := len(sig) / 2
	n := k.priv.(*ecdsa.PrivateKey).Curve.Params().N
	s := new(big.Int).SetBytes(sig[half:])
	s.Sub(n, s)
	out := append([]byte{}, sig[:half]...)
	out = append(out, s.FillBytes(make([]byte, half))...)
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(out)
}

// Vault signs with Go's crypto/ecdsa (through go-jose), which does not
// normalise S: half its genuine ES* tokens have a high S. Refusing high S
// would refuse them; both forms of a signature are accepted, and the
// twin is the same token to the verifier's claims.
func TestHighSTwinOfAGenuineToken(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(is.options())
	tok := is.token(is.ec, is.claims())
	twin := highSTwin(t, tok, is.ec)
	require.NotEqual(t, tok, twin)
	a, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	b, err := v.Verify(context.Background(), twin)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestCachedTokenStopsVerifyingWhenItsKeyIsRotatedOut(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	v := is.verifier(is.options()) // the default cache, whose entries live until the token's exp
	old := is.ec
	claims := is.claims()
	claims["exp"] = is.clock.Now().Add(24 * time.Hour).Unix()
	tok := is.token(old, claims)
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err, "a cached token verifies again while its key is published")

	// Vault rotates ec-1 out; the keys are fetched again past their max-age.
	is.ec = newECKey(t, "ec-2")
	is.publish(is.ec, is.rsa)
	is.clock.Advance(11 * time.Minute)
	_, err = v.Verify(ctx, is.token(old, is.claims()))
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	_, err = v.Verify(ctx, tok)
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "a token verified and cached before its key was rotated out must stop verifying too")
}
