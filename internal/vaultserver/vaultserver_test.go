package vaultserver

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerCertificateVerifiesWithTheCAAndIsKept(t *testing.T) {
	p := Paths{Dir: t.TempDir()}
	ip := net.ParseIP("198.18.0.2")
	require.NoError(t, WriteTLS(p, []net.IP{ip}, []string{"localhost"}))
	ca, cert := readCert(t, p.CAFile()), readCert(t, p.CertFile())
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: ip.String()})
	require.NoError(t, err, "valid for the IP")
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "198.18.0.3"})
	assert.Error(t, err, "not for another IP")
	fi, err := os.Stat(p.KeyFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	before, _ := os.ReadFile(p.CAFile())
	require.NoError(t, WriteTLS(p, []net.IP{ip}, nil))
	after, _ := os.ReadFile(p.CAFile())
	assert.Equal(t, before, after, "a second call keeps the pinned CA")
	assert.Error(t, WriteTLS(Paths{Dir: t.TempDir()}, nil, nil))
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	b, _ := pem.Decode(data)
	require.NotNil(t, b)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

func TestConfigHasTLSAndFileStorage(t *testing.T) {
	p := Paths{Dir: t.TempDir()}
	require.NoError(t, WriteConfig(p, "127.0.0.1:18200", "https://127.0.0.1:18200"))
	data, err := os.ReadFile(p.ConfigFile())
	require.NoError(t, err)
	conf := string(data)
	assert.Contains(t, conf, `storage "file"`)
	assert.Contains(t, conf, `cluster_address = "127.0.0.1:18201"`)
	assert.Contains(t, conf, p.CertFile())
	assert.NotContains(t, conf, "tls_disable")
	assert.ErrorContains(t, WriteConfig(p, "127.0.0.1:18200", "http://127.0.0.1:18200"), "must be https://")
	assert.ErrorContains(t, WriteConfig(p, "127.0.0.1:65535", "https://127.0.0.1:65535"), "1 to 65534")
	assert.Error(t, WriteConfig(p, "127.0.0.1", "https://127.0.0.1"))
}

// fakeVault answers sys/seal-status, sys/init and sys/unseal like Vault.
type fakeVault struct {
	mu                  sync.Mutex
	initialized, sealed bool
	inits, unseals      int
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/sys/seal-status":
	case "/v1/sys/init":
		f.inits++
		f.initialized = true
		_ = json.NewEncoder(w).Encode(map[string]any{"keys_base64": []string{"a2V5"}, "root_token": "hvs.root"})
		return
	case "/v1/sys/unseal":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["key"] != "a2V5" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":["wrong key"]}`))
			return
		}
		f.unseals++
		f.sealed = false
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]bool{"initialized": f.initialized, "sealed": f.sealed})
}

func TestInitKeepsTheKeysPrivateAndUnsealsAgain(t *testing.T) {
	f := &fakeVault{sealed: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := Paths{Dir: t.TempDir()}
	root, err := Init(t.Context(), srv.Client(), srv.URL, p)
	require.NoError(t, err)
	assert.Equal(t, "hvs.root", root)
	fi, err := os.Stat(p.InitFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, 1, f.unseals)

	// A restart seals it; Init again only unseals.
	f.sealed = true
	root, err = Init(t.Context(), srv.Client(), srv.URL, p)
	require.NoError(t, err)
	assert.Equal(t, "hvs.root", root)
	assert.Equal(t, 1, f.inits)
	assert.Equal(t, 2, f.unseals)
	got, err := RootToken(p)
	require.NoError(t, err)
	assert.Equal(t, "hvs.root", got)

	// Storage replaced under an init file: a clear error, no new init.
	f.initialized, f.sealed = false, true
	_, err = Init(t.Context(), srv.Client(), srv.URL, p)
	assert.ErrorContains(t, err, "storage")
	assert.Equal(t, 1, f.inits)
}

func TestErrorsNeverCarryTheUnsealKey(t *testing.T) {
	f := &fakeVault{initialized: true, sealed: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := Paths{Dir: t.TempDir()}
	require.NoError(t, os.WriteFile(p.InitFile(), []byte(`{"keys_base64":["d3Jvbmc="],"root_token":"hvs.secret"}`), 0o600))
	err := Unseal(t.Context(), srv.Client(), srv.URL, p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wrong key")
	assert.False(t, strings.Contains(err.Error(), "d3Jvbmc=") || strings.Contains(err.Error(), "hvs.secret"))
}

func TestClientTrustsOnlyTheCAAndNeverAProxy(t *testing.T) {
	p := Paths{Dir: t.TempDir()}
	require.NoError(t, WriteTLS(p, []net.IP{net.IPv4(127, 0, 0, 1)}, nil))
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	c, err := HTTPClient(p, nil)
	require.NoError(t, err)
	tr := c.Transport.(*http.Transport)
	assert.Nil(t, tr.Proxy, "unseal keys and tokens never go through an environment proxy")
	assert.NotNil(t, tr.TLSClientConfig.RootCAs)
	assert.False(t, tr.TLSClientConfig.InsecureSkipVerify)
	_, err = HTTPClient(Paths{Dir: t.TempDir()}, nil)
	assert.ErrorContains(t, err, "read the CA")
}
