// Package vaultserver prepares and looks after a real Vault server (not the
// in-memory dev server) for the local stack and the multi-host test hub:
// a generated CA and server certificate for its TLS listener, a
// configuration with file storage, and its initialisation and unsealing,
// with the unseal key and root token kept in a 0600 file beside it.
//
// It starts no process: callers start "vault server -config=<file>" their
// own way (detached, or inside a test host) and then call [Init] and
// [Unseal], or [KeepUnsealed] to unseal it again after every restart.
package vaultserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the files a Vault folder holds.
const (
	caName     = "vault-ca.pem"
	certName   = "vault-cert.pem"
	keyName    = "vault-key.pem"
	configName = "vault.hcl"
	initName   = "vault-init.json"
	dataName   = "vault-data"
)

// certLifetime is how long the generated CA and server certificate last.
const certLifetime = 5 * 365 * 24 * time.Hour

// Paths are the files of one Vault server, all in one folder.
type Paths struct {
	// Dir is the folder.
	Dir string
}

// CAFile is the PEM CA certificate clients pin (VaultCAFile, vault.caCert).
func (p Paths) CAFile() string { return filepath.Join(p.Dir, caName) }

// CertFile is the server's certificate (PEM).
func (p Paths) CertFile() string { return filepath.Join(p.Dir, certName) }

// KeyFile is the server's private key (PEM, 0600).
func (p Paths) KeyFile() string { return filepath.Join(p.Dir, keyName) }

// ConfigFile is the server's configuration (HCL).
func (p Paths) ConfigFile() string { return filepath.Join(p.Dir, configName) }

// InitFile holds the unseal key and the root token (JSON, 0600).
func (p Paths) InitFile() string { return filepath.Join(p.Dir, initName) }

// DataDir is the file storage folder.
func (p Paths) DataDir() string { return filepath.Join(p.Dir, dataName) }

// WriteTLS makes a CA and a server certificate signed by it, valid for
// the given IP addresses and DNS names, and writes them to p. Certificates
// already there are kept, so that a restarted server keeps the CA its
// clients pinned. The CA's private key is not kept: nothing else can be
// signed with it.
func WriteTLS(p Paths, ips []net.IP, names []string) error {
	if len(ips) == 0 && len(names) == 0 {
		return errors.New("vaultserver: the server certificate needs at least one IP address or DNS name")
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("vaultserver: create %s: %w", p.Dir, err)
	}
	if exists(p.CAFile()) && exists(p.CertFile()) && exists(p.KeyFile()) {
		return nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("vaultserver: generate the CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ztedge vault CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("vaultserver: make the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("vaultserver: read back the CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("vaultserver: generate the server key: %w", err)
	}
	cn := "vault"
	if len(names) > 0 {
		cn = names[0]
	} else if len(ips) > 0 {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("vaultserver: make the server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("vaultserver: encode the server key: %w", err)
	}
	if err := writeFile(p.KeyFile(), pemOf("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	if err := writeFile(p.CertFile(), pemOf("CERTIFICATE", der), 0o644); err != nil {
		return err
	}
	return writeFile(p.CAFile(), pemOf("CERTIFICATE", caDER), 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func pemOf(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFile writes data to path with mode, atomically (a temporary file
// renamed into place), so that a reader never sees half a file.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("vaultserver: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("vaultserver: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("vaultserver: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("vaultserver: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("vaultserver: write %s: %w", path, err)
	}
	return nil
}
