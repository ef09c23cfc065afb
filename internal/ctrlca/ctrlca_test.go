package ctrlca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fullsailor/pkcs7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned returns a new self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test controller"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// controller is a TLS server with a CA of its own that publishes that CA
// at /.well-known/est/cacerts, as a Ziti controller does.
func controller(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/est/cacerts" {
			http.NotFound(w, r)
			return
		}
		der, err := pkcs7.DegenerateCertificate(srv.Certificate().Raw)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/pkcs7-mime")
		_, _ = io.WriteString(w, base64.StdEncoding.EncodeToString(der))
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestTrustOnFirstUseMeansOnce(t *testing.T) {
	ctx := context.Background()
	ctrl := controller(t)
	pin := filepath.Join(t.TempDir(), "svc", "ziti-controller-ca.pem")

	pool, err := Load(ctx, Options{Controller: ctrl.URL, PinFile: pin, Logger: quiet()})
	require.NoError(t, err)
	require.NotNil(t, pool)
	b, err := os.ReadFile(pin)
	require.NoError(t, err, "the bundle fetched on first use is pinned")
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	assert.Equal(t, ctrl.Certificate().Raw, block.Bytes)

	// Later uses read the pin and check the controller against it.
	_, err = Load(ctx, Options{Controller: ctrl.URL, PinFile: pin, Logger: quiet()})
	require.NoError(t, err)

	// A controller with another CA at the same address is refused.
	other := controller(t)
	_, err = Load(ctx, Options{Controller: other.URL, PinFile: pin, Logger: quiet()})
	require.ErrorIs(t, err, ErrChanged)
	assert.Contains(t, err.Error(), "delete "+pin)
	pinned, _ := os.ReadFile(pin)
	assert.Equal(t, b, pinned, "a refused controller never replaces the pin")
}

func TestExplicitBundleWins(t *testing.T) {
	ctrl := controller(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ctrl.Certificate().Raw}), 0o644))
	pin := filepath.Join(dir, "pin.pem")
	_, err := Load(context.Background(), Options{Controller: ctrl.URL, CAFile: ca, PinFile: pin, Logger: quiet()})
	require.NoError(t, err)
	_, err = os.Stat(pin)
	assert.True(t, errors.Is(err, os.ErrNotExist), "an explicit bundle is not pinned")

	require.NoError(t, os.WriteFile(ca, []byte("not pem"), 0o644))
	_, err = Load(context.Background(), Options{Controller: ctrl.URL, CAFile: ca, Logger: quiet()})
	assert.ErrorContains(t, err, "holds no PEM certificate")
}

func TestUnreachableController(t *testing.T) {
	ctrl := controller(t)
	url := ctrl.URL
	ctrl.Close()
	_, err := Load(context.Background(), Options{Controller: url, PinFile: filepath.Join(t.TempDir(), "p.pem"), Logger: quiet()})
	assert.ErrorContains(t, err, "fetching the CA bundle of the ziti controller")
}

func TestHandshakeTellsUntrustedFromUnreachable(t *testing.T) {
	ctx := context.Background()
	ctrl := controller(t)
	trusted := x509.NewCertPool()
	trusted.AddCert(ctrl.Certificate())
	require.NoError(t, Handshake(ctx, ctrl.URL, trusted, 5*time.Second))

	err := Handshake(ctx, ctrl.URL, x509.NewCertPool(), 5*time.Second)
	var untrusted *UntrustedError
	require.ErrorAs(t, err, &untrusted)
	assert.Contains(t, err.Error(), "the ziti controller's certificate is not trusted: ")

	url := ctrl.URL
	ctrl.Close()
	err = Handshake(ctx, url, trusted, 5*time.Second)
	require.Error(t, err)
	assert.False(t, errors.As(err, &untrusted), "a closed port is not a trust failure: %v", err)

	assert.ErrorContains(t, Handshake(ctx, "ctrl:1280", trusted, time.Second), `ziti controller "ctrl:1280" is not a URL`)
}
