package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits of a JWKS document.
const (
	maxJWKSSize   = 1 << 20
	maxJWKSKeys   = 100
	minRSABits    = 2048
	fetchTimeout  = 30 * time.Second
	jwksMediaType = "application/json"
)

// publicKey is one usable signing key from the JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's alg, or "" when it names none
	key crypto.PublicKey
}

// keySet is one fetched JWKS.
type keySet struct {
	keys []publicKey
	// staleAt is when the set must be fetched again before it is used:
	// its fetch time plus the JWKS's Cache-Control max-age, capped.
	staleAt time.Time
	// refreshAt is when a fetch starts in the background, before staleAt.
	refreshAt time.Time
}

// compatible reports whether key k may verify a token signed with alg:
// the key type and curve must be those of the algorithm, and the JWK's own
// alg, when it has one, must be alg.
func (k publicKey) compatible(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return key.Curve == elliptic.P256()
		case "ES384":
			return key.Curve == elliptic.P384()
		case "ES512":
			return key.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// candidates returns the keys that may verify a token with the given alg
// and kid. known reports whether the kid (or, without kid, some key at
// all) is in the set: a known kid with no compatible key is an algorithm
// mismatch, not an unknown key.
func (s *keySet) candidates(alg, kid string) (keys []publicKey, known bool) {
	for _, k := range s.keys {
		if kid != "" && k.kid != kid {
			continue
		}
		known = true
		if k.compatible(alg) {
			keys = append(keys, k)
		}
	}
	return keys, known
}

// holds reports whether the set still publishes key k: the same key ID and
// the same public key.
func (s *keySet) holds(k publicKey) bool {
	want, ok := k.key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for _, have := range s.keys {
		if have.kid == k.kid && want.Equal(have.key) {
			return true
		}
	}
	return false
}

// fetchCall is one JWKS fetch that several goroutines may wait for.
type fetchCall struct {
	done chan struct{}
	set  *keySet
	err  error
}

// keyStore holds the current JWKS and refetches it, shared by all
// goroutines: at most once per interval for tokens naming an unknown kid,
// in the background when the set nears its max-age, and before use when it
// is past it, so a key the issuer rotated out stops verifying.
type keyStore struct {
	url      string
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	maxAge   time.Duration // the cap of the set's lifetime

	cur atomic.Pointer[keySet]

	mu       sync.Mutex
	last     time.Time // start of the last fetch
	failedAt time.Time // end of the last failed fetch
	inflight *fetchCall
}

// load fetches the keys for the first time.
func (s *keyStore) load(ctx context.Context) error {
	s.mu.Lock()
	s.last = s.now()
	s.mu.Unlock()
	set, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	s.cur.Store(set)
	return nil
}

// current returns the keys in use.
func (s *keyStore) current() *keySet { return s.cur.Load() }

// fresh returns the keys to verify with at now: the current set, after a
// fetch when it is past its max-age (a fetch that fails keeps the old set,
// logged, and is tried again after the refetch interval), and starting a
// background fetch when it nears its max-age.
func (s *keyStore) fresh(ctx context.Context) *keySet {
	set, now := s.current(), s.now()
	switch {
	case !now.Before(set.staleAt):
		if next := s.fetchNow(ctx, now); next != nil {
			return next
		}
	case !now.Before(set.refreshAt):
		s.mu.Lock()
		if s.inflight == nil && now.Sub(s.last) >= s.interval/4 {
			s.last = now
			call := &fetchCall{done: make(chan struct{})}
			s.inflight = call
			go s.run(context.WithoutCancel(ctx), call)
		}
		s.mu.Unlock()
	}
	return set
}

// fetchNow fetches a stale set, sharing an ongoing fetch, unless one
// failed less than interval ago. It returns the new set or nil.
func (s *keyStore) fetchNow(ctx context.Context, now time.Time) *keySet {
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		if s.failedAt.After(now.Add(-s.interval)) {
			s.mu.Unlock()
			return nil
		}
		s.last = now
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		go s.run(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.set
	case <-ctx.Done():
		return nil
	}
}

// refresh refetches the keys unless a fetch started less than interval ago;
// concurrent callers share one fetch. It returns the new set, or nil when
// no fetch was allowed, the fetch failed, or ctx ended first.
func (s *keyStore) refresh(ctx context.Context) *keySet {
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		now := s.now()
		if now.Sub(s.last) < s.interval {
			s.mu.Unlock()
			return nil
		}
		s.last = now
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		// The fetch outlives a caller that gives up: others may wait for it.
		go s.run(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		if call.err != nil {
			return nil
		}
		return call.set
	case <-ctx.Done():
		return nil
	}
}

// run performs call.
func (s *keyStore) run(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	set, err := s.fetch(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "refetching the signing keys failed; keeping the previous keys", "url", s.url, "err", err)
		set = nil
	} else {
		s.cur.Store(set)
		s.log.DebugContext(ctx, "refetched the signing keys", "url", s.url, "keys", len(set.keys))
	}
	s.mu.Lock()
	s.inflight = nil
	if err != nil {
		s.failedAt = s.now()
	}
	s.mu.Unlock()
	call.set, call.err = set, err
	close(call.done)
}

// fetch GETs and parses the JWKS. Keys that are not usable signing keys
// (symmetric keys, unknown types, RSA keys under 2048 bits, keys for
// another use) are skipped.
func (s *keyStore) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", s.url, err)
	}
	req.Header.Set("Accept", jwksMediaType)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("JWKS %s: HTTP status %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: reading: %w", s.url, err)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("JWKS %s: larger than %d bytes", s.url, maxJWKSSize)
	}
	set, err := parseJWKS(ctx, body, s.log, s.url)
	if err != nil {
		return nil, err
	}
	age := lifetime(resp.Header.Get("Cache-Control"), s.maxAge)
	now := s.now()
	set.staleAt = now.Add(age)
	set.refreshAt = now.Add(age * 4 / 5)
	return set, nil
}

// MinKeysMaxAge is the shortest lifetime a JWKS gets, whatever its
// Cache-Control says, so a tiny max-age cannot make every request fetch.
const MinKeysMaxAge = 30 * time.Second

// lifetime is how long a JWKS may be used: its Cache-Control max-age
// (no-cache or no-store count as the minimum), between MinKeysMaxAge and
// limit; limit when the header says nothing.
func lifetime(cacheControl string, limit time.Duration) time.Duration {
	age := limit
	for _, d := range strings.Split(cacheControl, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-cache" || d == "no-store":
			age = 0
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(d, "max-age="), `"`)); err == nil && n >= 0 {
				age = min(age, time.Duration(n)*time.Second)
			}
		}
	}
	return max(MinKeysMaxAge, min(age, limit))
}

// parseJWKS parses a JWKS document.
func parseJWKS(ctx context.Context, body []byte, log *slog.Logger, where string) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS %s: not a JSON key set: %w", where, err)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWKS %s: %d keys, more than %d", where, len(doc.Keys), maxJWKSKeys)
	}
	set := &keySet{}
	for i, raw := range doc.Keys {
		k, err := usableKey(raw)
		if err != nil {
			log.DebugContext(ctx, "skipping a JWKS key", "url", where, "index", i, "reason", err)
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("JWKS %s: no usable signing key among %d keys", where, len(doc.Keys))
	}
	return set, nil
}

// usableKey parses one JWK and checks that it may verify signatures.
func usableKey(raw json.RawMessage) (publicKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return publicKey{}, err
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return publicKey{}, fmt.Errorf("key %q is for use %q", jwk.KeyID, jwk.Use)
	}
	pub := jwk.Public() // a (misplaced) private key contributes its public half only
	if !pub.Valid() {
		return publicKey{}, fmt.Errorf("key %q is not an asymmetric public key", jwk.KeyID)
	}
	switch key := pub.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return publicKey{}, fmt.Errorf("RSA key %q has %d bits, fewer than %d", jwk.KeyID, key.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		switch key.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return publicKey{}, fmt.Errorf("EC key %q has an unsupported curve", jwk.KeyID)
		}
	case ed25519.PublicKey:
	default:
		return publicKey{}, errors.New("unsupported key type")
	}
	return publicKey{kid: jwk.KeyID, alg: jwk.Algorithm, key: pub.Key}, nil
}
