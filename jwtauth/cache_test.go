package jwtauth

import (
	"testing"
	"time"
)

func TestTokenCacheBoundedOldestFirst(t *testing.T) {
	c := newTokenCache(3)
	now := time.Unix(1000, 0)
	later := now.Add(time.Hour)
	key := func(i byte) cacheKey { return cacheKey{i} }
	for i := range byte(5) {
		c.put(key(i), &Claims{Name: string('a' + i)}, later)
	}
	if n := c.len(); n != 3 {
		t.Fatalf("len %d, want 3", n)
	}
	for i := range byte(5) {
		_, ok := c.get(key(i), now)
		if want := i >= 2; ok != want {
			t.Fatalf("key %d cached %v, want %v", i, ok, want)
		}
	}
	// An entry dropped on expiry and put again must not be evicted early
	// through its old ring slot.
	c.put(key(9), &Claims{}, now.Add(time.Second)) // slot 2
	if _, ok := c.get(key(9), now.Add(2*time.Second)); ok {
		t.Fatal("expired entry returned")
	}
	c.put(key(9), &Claims{}, later)  // slot 0
	c.put(key(10), &Claims{}, later) // slot 1
	c.put(key(11), &Claims{}, later) // slot 2, which still names key 9
	if _, ok := c.get(key(9), now); !ok {
		t.Fatal("re-added entry evicted through its stale slot")
	}
	if n := c.len(); n > 3 {
		t.Fatalf("len %d exceeds the bound", n)
	}
	// Updating an entry does not take a slot.
	c.put(key(10), &Claims{Name: "updated"}, later)
	if got, _ := c.get(key(10), now); got.Name != "updated" {
		t.Fatalf("got %+v", got)
	}
}
