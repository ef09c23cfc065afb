package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/ztedge/ztedge/internal/secretfile"
)

// CertificateLifetime is the validity of a generated self-signed certificate.
const CertificateLifetime = 365 * 24 * time.Hour

// renewBefore is how long before expiry a generated certificate is replaced.
const renewBefore = 7 * 24 * time.Hour

// DefaultCertificateHosts are the names a generated certificate is valid for.
var DefaultCertificateHosts = []string{"localhost", "127.0.0.1", "::1"}

// EnsureCertificate makes sure certFile and keyFile hold a usable
// self-signed certificate and ECDSA P-256 key for hosts (DNS names or IP
// addresses; [DefaultCertificateHosts] when empty). An existing pair is
// kept when it loads, matches, covers every host and is not about to
// expire; otherwise a new pair is written, both files with mode 0600 (the
// folder is created with 0700). It reports whether it wrote a new pair.
// Exactly one of the two files existing is an error, so a user-supplied
// certificate is never overwritten by accident.
func EnsureCertificate(certFile, keyFile string, hosts []string) (created bool, err error) {
	defer prefixErr(&err)
	if len(hosts) == 0 {
		hosts = DefaultCertificateHosts
	}
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		if problem := checkPair(certFile, keyFile, hosts); problem == "" {
			return false, nil
		}
		// A generated pair that is stale or incomplete is replaced below.
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr == nil && errors.Is(keyErr, fs.ErrNotExist):
		return false, fmt.Errorf("certificate %s exists but its key %s does not: remove the certificate to have a new pair generated", certFile, keyFile)
	case keyErr == nil && errors.Is(certErr, fs.ErrNotExist):
		return false, fmt.Errorf("key %s exists but its certificate %s does not: remove the key to have a new pair generated", keyFile, certFile)
	default:
		return false, fmt.Errorf("checking the certificate: %w", errors.Join(certErr, keyErr))
	}
	certPEM, keyPEM, err := selfSigned(hosts, time.Now())
	if err != nil {
		return false, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{keyFile, keyPEM}, {certFile, certPEM}} {
		if err := secretfile.Write(f.path, f.data); err != nil {
			return false, err
		}
	}
	return true, nil
}

// CheckCertificate loads a user-supplied certificate and key and checks
// that they match and the certificate is currently valid.
func CheckCertificate(certFile, keyFile string) (err error) {
	defer prefixErr(&err)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	now := time.Now()
	if leaf := pair.Leaf; leaf != nil && (now.Before(leaf.NotBefore) || now.After(leaf.NotAfter)) {
		return fmt.Errorf("certificate %s is valid only from %s to %s", certFile, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// checkPair says why an existing generated pair must be replaced ("" if
// it can stay).
func checkPair(certFile, keyFile string, hosts []string) string {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || pair.Leaf == nil {
		return "unusable"
	}
	leaf := pair.Leaf
	if time.Until(leaf.NotAfter) < renewBefore || time.Now().Before(leaf.NotBefore) {
		return "expiring"
	}
	if leaf.IsCA {
		return "a CA certificate (earlier versions generated one)"
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return "missing host " + h
		}
	}
	return ""
}

// selfSigned returns a new self-signed certificate and its ECDSA P-256
// key, PEM-encoded, valid for hosts from now on for CertificateLifetime.
func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the gateway key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generating a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ztedge gateway", Organization: []string{"ztedge"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(CertificateLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		// A self-signed leaf, trusted as itself (curl --cacert, a browser
		// exception): not a CA, so a client that trusts it trusts nothing
		// else it could sign.
		IsCA: false,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the gateway certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the gateway key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
