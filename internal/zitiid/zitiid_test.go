package zitiid

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned returns a PEM certificate and key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// identityFile writes an identity file with the given id fields.
func identityFile(t *testing.T, cert, key, ca string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"ztAPI": "https://127.0.0.1:1280/edge/client/v1",
		"id": map[string]string{"cert": cert, "key": key, "ca": ca}})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "id.json")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	return file
}

func TestLoadIdentity(t *testing.T) {
	cert, key := selfSigned(t)
	cfg, id, err := Load(identityFile(t, "pem:"+cert, "pem:"+key, "pem:"+cert))
	require.NoError(t, err)
	assert.Equal(t, []string{"https://127.0.0.1:1280/edge/client/v1"}, Controllers(cfg))
	assert.NotNil(t, id.Cert())
	assert.NotNil(t, id.CA())

	for name, c := range map[string]struct{ cert, key, ca, want string }{
		"no PEM in the key": {"pem:" + cert, "pem:garbage", "pem:" + cert, "id.key holds no PEM block"},
		"a broken key block": {"pem:" + cert,
			"pem:-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "pem:" + cert,
			"loading its certificate, key and CA bundle"},
		"a missing key file": {"pem:" + cert, "file:///nonexistent/key.pem", "pem:" + cert, "loading its certificate, key and CA bundle"},
		"no CA":              {"pem:" + cert, "pem:" + key, "", "no id.ca"},
	} {
		_, _, err := Load(identityFile(t, c.cert, c.key, c.ca))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.want, name)
		assert.Contains(t, err.Error(), "ziti identity file ", name)
	}
}

func TestProbeControllerSaysWhatIsWrong(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	trusted := x509.NewCertPool()
	trusted.AddCert(srv.Certificate())
	require.NoError(t, Probe(t.Context(), srv.URL+"/edge/client/v1", trusted))

	err := Probe(t.Context(), srv.URL+"/edge/client/v1", x509.NewCertPool())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not trusted by the CA bundle in the identity file")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close()
	err = Probe(t.Context(), "https://"+closed+"/edge/client/v1", trusted)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach the ziti controller at https://"+closed)
}
