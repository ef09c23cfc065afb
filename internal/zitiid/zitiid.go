// Package zitiid loads enrolled Ziti identity files (the JSON that
// enrolment writes: controller address, certificate, key and the
// controller's CA bundle) and checks them, so that a bad file is a clear
// error instead of a panic or a quiet retry loop inside the SDK.
package zitiid

import (
	"context"
	"crypto/sha1" // the controller names certificates by their SHA-1
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openziti/identity"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/secretfile"
)

const (
	// maxIdentityFile bounds the identity file read.
	maxIdentityFile = 1 << 20
	// probeTimeout bounds the first TLS handshake with the controller.
	probeTimeout = 10 * time.Second
)

// Load reads and checks an enrolled identity file (which must be private
// to its owner: it holds a private key), and loads its certificate and
// key, so that a bad file is an error here rather than a fatal log line or
// a panic inside the SDK later.
func Load(file string) (*ziti.Config, identity.Identity, error) {
	data, err := secretfile.Read(file, "ziti identity file", maxIdentityFile)
	if err != nil {
		return nil, nil, err
	}
	var cfg ziti.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("ziti identity file %s is not an enrolled identity (JSON with ztAPI and id): %v", file, err)
	}
	var problems []string
	if len(Controllers(&cfg)) == 0 {
		problems = append(problems, "no controller address (ztAPI)")
	}
	for _, a := range Controllers(&cfg) {
		if u, err := url.Parse(a); err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("controller address %q is not an https URL", a))
		}
	}
	for _, f := range []struct{ name, value string }{{"id.cert", cfg.ID.Cert}, {"id.key", cfg.ID.Key}, {"id.ca", cfg.ID.CA}} {
		switch pemText, inline := strings.CutPrefix(f.value, "pem:"); {
		case f.value == "":
			problems = append(problems, "no "+f.name)
		case inline && !holdsPEM(pemText):
			problems = append(problems, f.name+" holds no PEM block")
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("ziti identity file %s: %s (is it an enrolled identity, as \"ztedge provision apply\" writes to <output>/clients/<name>.json?)",
			file, strings.Join(problems, "; "))
	}
	id, err := safeLoadIdentity(cfg.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("ziti identity file %s: loading its certificate, key and CA bundle: %v", file, err)
	}
	return &cfg, id, nil
}

// Controllers are the controller addresses (…/edge/client/v1) of an
// identity file.
func Controllers(cfg *ziti.Config) []string {
	if len(cfg.ZtAPIs) > 0 {
		return cfg.ZtAPIs
	}
	if cfg.ZtAPI != "" {
		return []string{cfg.ZtAPI}
	}
	return nil
}

// holdsPEM reports whether s holds at least one PEM block.
func holdsPEM(s string) bool {
	b, _ := pem.Decode([]byte(s))
	return b != nil
}

// safeLoadIdentity is identity.LoadIdentity, with its panics on malformed
// keys turned into errors.
func safeLoadIdentity(cfg identity.Config) (id identity.Identity, err error) {
	defer func() {
		if r := recover(); r != nil {
			id, err = nil, fmt.Errorf("malformed certificate or key (%v)", r)
		}
	}()
	return identity.LoadIdentity(cfg)
}

// Probe does one TLS handshake with the controller at ztAPI, trusting only
// pool (the identity file's CA bundle), so that an unreachable or
// untrusted controller is reported at once and plainly.
func Probe(ctx context.Context, ztAPI string, pool *x509.CertPool) error {
	controller := strings.TrimSuffix(ztAPI, "/edge/client/v1")
	err := ctrlca.Handshake(ctx, controller, pool, probeTimeout)
	var untrusted *ctrlca.UntrustedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &untrusted):
		return fmt.Errorf("the ziti controller at %s is not trusted by the CA bundle in the identity file (%v): is the file enrolled with this controller?", controller, untrusted.Err)
	}
	return fmt.Errorf("cannot reach the ziti controller at %s: %v", controller, err)
}

// Fingerprint returns the fingerprint the controller gives the certificate
// of an identity file (the SHA-1 of its DER form, in lower-case hex), to
// compare with the identity's certificate authenticator.
func Fingerprint(file string) (string, error) {
	_, id, err := Load(file)
	if err != nil {
		return "", err
	}
	c := id.Cert()
	if c == nil || len(c.Certificate) == 0 {
		return "", fmt.Errorf("ziti identity file %s holds no certificate", file)
	}
	return fmt.Sprintf("%x", sha1.Sum(c.Certificate[0])), nil
}
