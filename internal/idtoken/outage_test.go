package idtoken

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log buffer safe for the renewal goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// outageSource is a source on a fake Vault with a fake clock.
func outageSource(t *testing.T) (*Source, *fakeVault, func(time.Duration), *syncBuffer) {
	t.Helper()
	clock := time.Unix(1_800_000_000, 0)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	fv := &fakeVault{now: now, jwtTTL: 30 * time.Second, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	src, err := New(writeCreds(t, srv.URL), Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	src.now = now
	return src, fv, advance, logs
}

func TestAHangingVaultDoesNotHoldUpCallersWhileTheJWTIsValid(t *testing.T) {
	src, fv, advance, _ := outageSource(t)
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)

	hang := make(chan struct{})
	fv.mu.Lock()
	fv.hang = hang
	fv.mu.Unlock()
	advance(25 * time.Second) // renewal due, JWT valid for 5 s more

	began := time.Now()
	tok, err := src.Token(ctx) // starts the renewal, waits for it a little
	require.NoError(t, err)
	assert.Equal(t, first, tok)
	assert.Less(t, time.Since(began), renewWait+time.Second)
	for range 50 { // callers meanwhile do not wait at all
		began = time.Now()
		tok, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, first, tok)
		assert.Less(t, time.Since(began), 100*time.Millisecond)
	}

	close(hang)
	require.Eventually(t, func() bool { return src.Fetches() == 2 }, 5*time.Second, 10*time.Millisecond)
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first, tok, "the renewal that went on without the caller is used")
}

func TestAnOutageLongerThanTheJWTIsLoggedOnceAndEndsByItself(t *testing.T) {
	src, fv, advance, logs := outageSource(t)
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)

	fv.mu.Lock()
	fv.down = true
	fv.mu.Unlock()
	advance(25 * time.Second)
	tok, err := src.Token(ctx)
	require.NoError(t, err, "the cached JWT serves until its exp")
	assert.Equal(t, first, tok)
	assert.Error(t, src.State().LastError, "the failed renewal is recorded")

	advance(10 * time.Second) // past exp
	_, err = src.Token(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Vault is sealed")
	calls := func() int { fv.mu.Lock(); defer fv.mu.Unlock(); return fv.fetches }
	for range 20 { // within the retry interval: fail at once, no call to Vault
		_, err = src.Token(ctx)
		require.Error(t, err)
	}
	advance(RetryInterval)
	_, err = src.Token(ctx)
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(logs.String(), "renewing the service's JWT failed; using the current one"), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "the service's JWT has expired and vault cannot issue a new one"), logs.String())

	fv.mu.Lock()
	fv.down = false
	fv.mu.Unlock()
	advance(RetryInterval)
	before := calls()
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first, tok)
	assert.Equal(t, before+1, calls())
	assert.NoError(t, src.State().LastError)
	assert.Contains(t, logs.String(), "vault issues identity tokens again")
	assert.NotContains(t, logs.String(), tok)
}

func TestKeepRenewsAheadOfUse(t *testing.T) {
	fv := &fakeVault{now: time.Now, jwtTTL: 2 * time.Second, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Keep(ctx)
	// JWTs of 2 s are renewed 1 s before exp (the minimum margin): about
	// one a second, with nobody asking for them.
	require.Eventually(t, func() bool { return src.Fetches() >= 3 }, 10*time.Second, 50*time.Millisecond)
	assert.True(t, time.Now().Before(src.State().Expires))
}

func TestATimeoutSaysWhichVaultDidNotAnswer(t *testing.T) {
	src, fv, advance, logs := outageSource(t)
	_, err := src.Token(context.Background())
	require.NoError(t, err)
	hang := make(chan struct{})
	defer close(hang)
	fv.mu.Lock()
	fv.hang = hang
	fv.mu.Unlock()
	advance(40 * time.Second) // expired: wait for the renewal
	_, err = src.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not answer within "+requestTimeout.String())
	assert.Contains(t, err.Error(), src.Address())
	assert.Contains(t, logs.String(), "did not answer within")
}
