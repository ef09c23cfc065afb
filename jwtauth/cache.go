package jwtauth

import (
	"sync"
	"time"
)

// cacheKey is the SHA-256 of a token string.
type cacheKey [32]byte

// cacheEntry is a verified token's claims, valid until until.
type cacheEntry struct {
	claims *Claims
	by     publicKey // the key that verified the signature; zero when none did
	until  time.Time
	slot   int // the ring slot that owns this entry
}

// tokenCache is a bounded map of verified tokens. Eviction is oldest
// first: a ring of keys in insertion order, so put and get are O(1).
// Entries past their end are dropped when looked up.
type tokenCache struct {
	mu   sync.Mutex
	m    map[cacheKey]cacheEntry
	ring []cacheKey
	used []bool
	next int
}

// newTokenCache returns a cache of at most size entries (size > 0).
func newTokenCache(size int) *tokenCache {
	return &tokenCache{
		m:    make(map[cacheKey]cacheEntry, min(size, 1024)),
		ring: make([]cacheKey, size),
		used: make([]bool, size),
	}
}

// get returns the claims cached for k, and the key that verified them,
// if they are still valid at now.
func (c *tokenCache) get(k cacheKey, now time.Time) (*Claims, publicKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, publicKey{}, false
	}
	if !now.Before(e.until) {
		delete(c.m, k)
		return nil, publicKey{}, false
	}
	return e.claims, e.by, true
}

// put caches claims for k, verified by key by, until until, evicting the
// oldest entry when the cache is full.
func (c *tokenCache) put(k cacheKey, claims *Claims, by publicKey, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		e.claims, e.by, e.until = claims, by, until
		c.m[k] = e
		return
	}
	i := c.next
	c.next = (c.next + 1) % len(c.ring)
	if c.used[i] {
		if old, ok := c.m[c.ring[i]]; ok && old.slot == i {
			delete(c.m, c.ring[i])
		}
	}
	c.ring[i], c.used[i] = k, true
	c.m[k] = cacheEntry{claims: claims, by: by, until: until, slot: i}
}

// len returns the number of entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
