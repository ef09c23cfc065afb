package idtoken

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSourceRenewsTheLoginBetweenJWTs(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	fv := &fakeVault{now: now, jwtTTL: 10 * time.Minute, tokenTTL: 60}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	src.now = now
	ctx := context.Background()
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, clock.Add(48*time.Second), src.RenewAt(), "the login, a fifth of its 60 s before its end, comes before the JWT")

	clockMu.Lock()
	clock = clock.Add(50 * time.Second)
	clockMu.Unlock()
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, fv.renews, "the login is renewed while the JWT is still fresh")
	assert.Equal(t, 1, fv.fetches)
	assert.Equal(t, 1, fv.logins)
}

func TestSourceReachesVaultThroughTheOverlay(t *testing.T) {
	fv := &fakeVault{now: time.Now, jwtTTL: 10 * time.Minute, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	// The address in the credentials does not resolve: only the overlay
	// reaches this Vault.
	src, err := New(writeCreds(t, "http://vault.invalid:8200"), Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = src.Token(ctx)
	require.Error(t, err, "no underlay path")

	var dials atomic.Int32
	src.UseOverlay(func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	})
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Positive(t, dials.Load())
	assert.Equal(t, 1, fv.fetches)
}

func TestSourceFallsBackToTheNetworkWhenTheOverlayFails(t *testing.T) {
	fv := &fakeVault{now: time.Now, jwtTTL: 10 * time.Minute, tokenTTL: 3600}
	srv := httptest.NewServer(fv.handler(t))
	defer srv.Close()
	src, err := New(writeCreds(t, srv.URL), Options{})
	require.NoError(t, err)
	src.UseOverlay(func(context.Context) (net.Conn, error) { return nil, errors.New("no terminators") })
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	assert.True(t, src.viaWarned.Load(), "the fallback is reported")
}

func TestSourceKeepsTLSEndToEndOverTheOverlay(t *testing.T) {
	fv := &fakeVault{now: time.Now, jwtTTL: 10 * time.Minute, tokenTTL: 3600}
	srv := httptest.NewTLSServer(fv.handler(t))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "vault-ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	overlay := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}

	// httptest's certificate is for example.com: the overlay connection
	// carries TLS checked against the host name of the Vault address.
	src, err := New(writeCreds(t, "https://example.com:8200"), Options{CAFile: ca})
	require.NoError(t, err)
	src.UseOverlay(overlay)
	_, err = src.Token(context.Background())
	require.NoError(t, err)

	wrongName, err := New(writeCreds(t, "https://vault.example.net:8200"), Options{CAFile: ca})
	require.NoError(t, err)
	wrongName.UseOverlay(overlay)
	_, err = wrongName.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate is valid for", "a certificate for another name is refused over the overlay too")
}
