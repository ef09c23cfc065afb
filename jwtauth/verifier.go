package jwtauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a verified token.
type Claims struct {
	// Name is the "name" claim: the service name in ztedge's Vault tokens.
	Name string
	// Subject is "sub": the Vault entity ID.
	Subject string
	// Issuer is "iss".
	Issuer string
	// Audience is "aud", a string or an array of strings in the token.
	Audience []string
	// IssuedAt, NotBefore and ExpiresAt are "iat", "nbf" and "exp"; zero
	// when the token has no such claim (exp is always present).
	IssuedAt, NotBefore, ExpiresAt time.Time
	// Extra holds every other claim (Vault adds "namespace"), as decoded
	// by encoding/json with numbers as json.Number; nil when there are none.
	Extra map[string]any
}

// clone returns a copy of c whose Audience and Extra (top level) may be
// changed without touching c, which may be cached.
func (c *Claims) clone() *Claims {
	cp := *c
	cp.Audience = slices.Clone(c.Audience)
	cp.Extra = maps.Clone(c.Extra)
	return &cp
}

// Verifier verifies tokens as its [Options] say. It is safe for concurrent
// use; create one per process (or per issuer and audience) and share it.
type Verifier struct {
	s       *settings
	keys    *keyStore   // nil in Introspect mode
	cache   *tokenCache // nil when caching is off
	refused *tokenCache // tokens the introspector called inactive; nil in Local mode
}

// refusedCacheSize bounds the cache of tokens the introspector refused.
const refusedCacheSize = 1024

// NewVerifier checks opts and returns a Verifier. In Local and Both modes
// it fetches the JWKS once and fails when it cannot, or when the JWKS has
// no usable signing key.
func NewVerifier(ctx context.Context, opts Options) (*Verifier, error) {
	s, err := opts.validate()
	if err != nil {
		return nil, err
	}
	v := &Verifier{s: s}
	if s.CacheSize > 0 {
		v.cache = newTokenCache(s.CacheSize)
		if s.Mode != Local {
			v.refused = newTokenCache(min(s.CacheSize, refusedCacheSize))
		}
	}
	if s.Mode != Introspect {
		v.keys = &keyStore{url: s.KeysURL, client: s.HTTPClient, log: s.Logger, now: s.Now,
			interval: s.RefetchInterval, maxAge: s.KeysMaxAge}
		if err := v.keys.load(ctx); err != nil {
			return nil, fmt.Errorf("jwtauth: %w", err)
		}
	}
	return v, nil
}

// Verify checks token and returns its claims, or an [*Error] saying why
// it is refused. A token verified before and still unexpired is answered
// from the cache. In Introspect and Both modes an introspection that
// fails (Vault unreachable, say) refuses the token with
// [ErrIntrospection] and is logged.
//
// The returned Claims are the caller's to keep; nested values in Extra
// are shared with the cache and must not be modified.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token)
	if v.s.OnVerify != nil {
		v.s.OnVerify(err)
	}
	return c, err
}

// Reason is the short, token-free name of a verification result: "ok"
// for nil, else the refusal's reason (e.g. "token expired").
func Reason(err error) string {
	if err == nil {
		return "ok"
	}
	return description(err)
}

func (v *Verifier) verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, refuse(ErrMalformed, "empty token")
	}
	if len(token) > v.s.MaxTokenSize {
		return nil, refuse(ErrTokenTooLarge, fmt.Sprintf("more than %d bytes", v.s.MaxTokenSize))
	}
	now := v.s.Now()
	var key cacheKey
	if v.cache != nil {
		key = sha256.Sum256([]byte(token))
		// A cached token stays valid only while the key that verified it
		// is published: a key rotated out stops verifying at once.
		if c, by, ok := v.cache.get(key, now); ok && (by.key == nil || v.keys.fresh(ctx).holds(by)) {
			return c.clone(), nil
		}
	}
	t, err := v.parse(token)
	if err != nil {
		return nil, err
	}
	var by publicKey
	if v.s.Mode != Introspect {
		if by, err = v.checkSignature(ctx, t); err != nil {
			return nil, err
		}
	}
	if err := v.checkClaims(t.claims, now); err != nil {
		return nil, err
	}
	if v.s.Mode != Local {
		if v.refused != nil {
			if _, _, no := v.refused.get(key, now); no {
				return nil, refuse(ErrInactive, "refused by the introspection endpoint moments ago")
			}
		}
		if err := v.introspect(ctx, token); err != nil {
			if errors.Is(err, ErrInactive) && v.refused != nil {
				v.refused.put(key, nil, publicKey{}, now.Add(v.s.CacheTTL))
			}
			return nil, err
		}
	}
	if v.cache != nil {
		until := t.claims.ExpiresAt
		if ttl := v.s.CacheTTL; ttl > 0 && now.Add(ttl).Before(until) {
			until = now.Add(ttl)
		}
		v.cache.put(key, t.claims, by, until)
	}
	return t.claims.clone(), nil
}

// parsedToken is a token split and decoded, not yet verified.
type parsedToken struct {
	alg, kid     string
	signingInput string // header "." payload, as received
	signature    string // encoded
	claims       *Claims
}

// segment decodes base64url without padding, refusing non-canonical
// encodings (non-zero trailing bits).
var segment = base64.RawURLEncoding.Strict()

// isBase64URL reports whether c may appear in a base64url segment.
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// parse splits a compact JWS and decodes its header and claims.
func (v *Verifier) parse(token string) (*parsedToken, error) {
	for i := 0; i < len(token); i++ {
		// encoding/base64 skips \r and \n: refusing everything outside the
		// alphabet keeps one token string per signed content.
		if c := token[i]; c != '.' && !isBase64URL(c) {
			return nil, refuse(ErrMalformed, "characters outside base64url")
		}
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, refuse(ErrMalformed, "not three dot-separated segments")
	}
	if len(h) > MaxHeaderSize {
		return nil, refuse(ErrTokenTooLarge, fmt.Sprintf("header of more than %d bytes", MaxHeaderSize))
	}
	if h == "" || p == "" {
		return nil, refuse(ErrMalformed, "empty segment")
	}
	hb, err := segment.DecodeString(h)
	if err != nil {
		return nil, refuse(ErrMalformed, "header is not base64url")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if !isJSONObject(hb) || json.Unmarshal(hb, &hdr) != nil {
		return nil, refuse(ErrMalformed, "header is not a JSON object with string alg and kid")
	}
	if hdr.Crit != nil && string(hdr.Crit) != "null" {
		return nil, refuse(ErrMalformed, "critical header extensions are not supported")
	}
	if !v.s.algs[hdr.Alg] {
		return nil, refuse(ErrAlgorithm, "algorithm not in the allow-list")
	}
	if sig == "" {
		return nil, refuse(ErrMalformed, "no signature")
	}
	pb, err := segment.DecodeString(p)
	if err != nil {
		return nil, refuse(ErrMalformed, "payload is not base64url")
	}
	m, err := decodeObject(pb)
	if err != nil {
		return nil, refuse(ErrMalformed, "payload is not a JSON object")
	}
	claims, err := claimsOf(m)
	if err != nil {
		return nil, err
	}
	return &parsedToken{
		alg: hdr.Alg, kid: hdr.Kid,
		signingInput: token[:len(h)+1+len(p)], signature: sig,
		claims: claims,
	}, nil
}

// isJSONObject reports whether b starts, after white space, with '{'.
func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// decodeObject decodes a JSON object, numbers as json.Number, refusing
// anything else and trailing data.
func decodeObject(b []byte) (map[string]any, error) {
	if !isJSONObject(b) {
		return nil, fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	if m == nil {
		return nil, fmt.Errorf("null")
	}
	return m, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are refused.
const maxNumericDate = 253402300799

// claimsOf reads the registered claims and name from m, refusing claims
// of the wrong type.
func claimsOf(m map[string]any) (*Claims, error) {
	c := &Claims{}
	for k, val := range m {
		var ok bool
		switch k {
		case "iss":
			c.Issuer, ok = val.(string)
		case "sub":
			c.Subject, ok = val.(string)
		case "name":
			c.Name, ok = val.(string)
		case "aud":
			c.Audience, ok = audienceOf(val)
		case "exp":
			c.ExpiresAt, ok = numericDate(val)
		case "nbf":
			c.NotBefore, ok = numericDate(val)
		case "iat":
			c.IssuedAt, ok = numericDate(val)
		default:
			if c.Extra == nil {
				c.Extra = make(map[string]any, len(m))
			}
			c.Extra[k], ok = val, true
		}
		if !ok {
			return nil, refuse(ErrMalformed, "claim "+strconv.Quote(k)+" has the wrong type")
		}
	}
	if c.ExpiresAt.IsZero() {
		return nil, refuse(ErrMalformed, "exp claim required")
	}
	return c, nil
}

// audienceOf reads aud: a string or an array of strings.
func audienceOf(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, true
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// numericDate reads a NumericDate (seconds since the epoch, possibly
// fractional) between the epoch and the year 9999.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// checkSignature verifies the signature with the key the token names.
func (v *Verifier) checkSignature(ctx context.Context, t *parsedToken) (publicKey, error) {
	sig, err := segment.DecodeString(t.signature)
	if err != nil {
		return publicKey{}, refuse(ErrMalformed, "signature is not base64url")
	}
	keys, known := v.keys.fresh(ctx).candidates(t.alg, t.kid)
	if !known && t.kid != "" {
		// A kid we have not seen: the issuer may have rotated its keys.
		// refresh fetches at most once per RefetchInterval.
		if set := v.keys.refresh(ctx); set != nil {
			keys, known = set.candidates(t.alg, t.kid)
		}
	}
	if !known {
		return publicKey{}, refuse(ErrUnknownKey, "no published key has the token's key ID")
	}
	if len(keys) == 0 {
		return publicKey{}, refuse(ErrAlgorithm, "the algorithm does not match the key's type")
	}
	method := jwt.GetSigningMethod(t.alg)
	if method == nil { // cannot happen: the allow-list holds supported algorithms only
		return publicKey{}, refuse(ErrAlgorithm, "unsupported algorithm")
	}
	for _, k := range keys {
		if method.Verify(t.signingInput, sig, k.key) == nil {
			return k, nil
		}
	}
	return publicKey{}, refuse(ErrSignature, "")
}

// checkClaims checks exp, nbf, iat, iss and aud at now.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	lw := v.s.Leeway
	switch {
	case !now.Before(c.ExpiresAt.Add(lw)):
		return refuse(ErrExpired, "")
	case !c.NotBefore.IsZero() && now.Add(lw).Before(c.NotBefore):
		return refuse(ErrNotYetValid, "")
	case !c.IssuedAt.IsZero() && now.Add(lw).Before(c.IssuedAt):
		return refuse(ErrIssuedInFuture, "")
	case c.Issuer != v.s.Issuer:
		return refuse(ErrIssuer, "")
	}
	for _, a := range c.Audience {
		if slices.Contains(v.s.Audiences, a) {
			return nil
		}
	}
	return refuse(ErrAudience, "")
}

// introspect asks the Introspector, failing closed.
func (v *Verifier) introspect(ctx context.Context, token string) error {
	active, err := v.s.Introspector.Introspect(ctx, token)
	if err != nil {
		level := slog.LevelError
		if ctx.Err() != nil { // the caller gave up: not the issuer's fault
			level = slog.LevelDebug
		}
		v.s.Logger.Log(ctx, level, "token introspection failed; refusing the token", "err", err)
		return &Error{Reason: ErrIntrospection, Err: err}
	}
	if !active {
		return refuse(ErrInactive, "")
	}
	return nil
}
