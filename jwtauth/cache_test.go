package jwtauth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenCacheBoundedOldestFirst(t *testing.T) {
	c := newTokenCache(3)
	now := time.Unix(1000, 0)
	later := now.Add(time.Hour)
	key := func(i byte) cacheKey { return cacheKey{i} }
	for i := range byte(5) {
		c.put(key(i), &Claims{Name: string('a' + i)}, publicKey{}, later)
	}
	require.Equal(t, 3, c.len())
	for i := range byte(5) {
		_, _, ok := c.get(key(i), now)
		require.Equal(t, i >= 2, ok, "key %d cached", i)
	}
	// An entry dropped on expiry and put again must not be evicted early
	// through its old ring slot.
	c.put(key(9), &Claims{}, publicKey{}, now.Add(time.Second)) // slot 2
	_, _, ok := c.get(key(9), now.Add(2*time.Second))
	require.False(t, ok, "expired entry returned")
	c.put(key(9), &Claims{}, publicKey{}, later)  // slot 0
	c.put(key(10), &Claims{}, publicKey{}, later) // slot 1
	c.put(key(11), &Claims{}, publicKey{}, later) // slot 2, which still names key 9
	_, _, ok = c.get(key(9), now)
	require.True(t, ok, "re-added entry evicted through its stale slot")
	require.LessOrEqual(t, c.len(), 3, "len exceeds the bound")
	// Updating an entry does not take a slot.
	c.put(key(10), &Claims{Name: "updated"}, publicKey{}, later)
	got, _, _ := c.get(key(10), now)
	require.Equal(t, "updated", got.Name)
}
