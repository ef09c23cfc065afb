// Package ctrlca loads the CA bundle a Ziti controller is trusted with: a
// bundle file the operator gave, or the controller's own well-known bundle
// fetched once (trust on first use), saved to a pin file, and required from
// then on, so a controller whose CA changed is refused with an error that
// says how to re-pin.
package ctrlca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/openziti/edge-api/rest_util"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// Options say where the controller is and where its bundle comes from.
type Options struct {
	// Controller is the controller's https base URL. Required.
	Controller string
	// CAFile is a PEM bundle to trust the controller with. When set, it is
	// used as is and PinFile is ignored.
	CAFile string
	// PinFile is where the bundle fetched on first use is saved, and read
	// from on every later use. Empty means trust on every use, which only
	// tests should do.
	PinFile string
	// Logger receives the first-use warning. Default slog.Default().
	Logger *slog.Logger
	// Timeout bounds the fetch and the check. Default 10 s.
	Timeout time.Duration
}

// ErrChanged is the error (with errors.Is) for a controller that the pinned
// bundle does not trust.
var ErrChanged = errors.New("the ziti controller's certificate is not trusted by the pinned CA bundle")

// Load returns the pool to trust the controller with; see [Options].
func Load(ctx context.Context, o Options) (*x509.CertPool, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.CAFile != "" {
		return ReadFile(o.CAFile)
	}
	if o.PinFile != "" {
		pool, err := ReadFile(o.PinFile)
		switch {
		case err == nil:
			if err := check(ctx, o, pool); err != nil {
				return nil, err
			}
			return pool, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	certs, err := fetch(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("fetching the CA bundle of the ziti controller at %s: %w", o.Controller, err)
	}
	pool := x509.NewCertPool()
	var pems []byte
	for _, c := range certs {
		pool.AddCert(c)
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := check(ctx, o, pool); err != nil {
		return nil, fmt.Errorf("the ziti controller at %s does not chain to its own well-known CA bundle: %w", o.Controller, err)
	}
	if o.PinFile == "" {
		o.Logger.Warn("trusting the ziti controller's CA bundle on first use, without pinning it", "controller", o.Controller)
		return pool, nil
	}
	if err := secretfile.WriteMode(o.PinFile, pems, 0o644); err != nil {
		return nil, fmt.Errorf("pinning the ziti controller's CA bundle: %w", err)
	}
	o.Logger.Warn("trusted the ziti controller's CA bundle on first use and pinned it; later starts require it",
		"controller", o.Controller, "pinFile", o.PinFile)
	return pool, nil
}

// ReadFile reads a PEM bundle into a pool.
func ReadFile(file string) (*x509.CertPool, error) {
	b, err := configfile.Read(file)
	if err != nil {
		return nil, fmt.Errorf("ziti controller CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ziti controller CA bundle %s holds no PEM certificate", file)
	}
	return pool, nil
}

// fetch reads the controller's well-known bundle without verifying the
// connection: this is the "first use" that is trusted.
func fetch(ctx context.Context, o Options) ([]*x509.Certificate, error) {
	type result struct {
		certs []*x509.Certificate
		err   error
	}
	done := make(chan result, 1)
	go func() {
		certs, err := rest_util.GetControllerWellKnownCas(o.Controller)
		done <- result{certs, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err == nil && len(r.certs) == 0 {
			r.err = errors.New("the bundle is empty")
		}
		return r.certs, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// UntrustedError is the error of [Handshake] when the controller presented
// a certificate the pool does not trust.
type UntrustedError struct{ Err error }

func (e *UntrustedError) Error() string {
	return "the ziti controller's certificate is not trusted: " + e.Err.Error()
}

// Unwrap returns the TLS error.
func (e *UntrustedError) Unwrap() error { return e.Err }

// Handshake does one TLS handshake with the controller at its https base
// URL, trusting only pool. A certificate the pool does not trust is an
// [*UntrustedError]; any other error means the controller could not be
// reached.
func Handshake(ctx context.Context, controller string, pool *x509.CertPool, timeout time.Duration) error {
	u, err := url.Parse(controller)
	if err != nil || u.Host == "" {
		return fmt.Errorf("ziti controller %q is not a URL", controller)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout},
		Config: &tls.Config{RootCAs: pool, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return nil
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return &UntrustedError{Err: err}
	}
	return err
}

// check does a TLS handshake with the controller, trusting only pool. A
// controller that cannot be reached is not an error here: connecting
// reports it later, with retries.
func check(ctx context.Context, o Options, pool *x509.CertPool) error {
	if u, err := url.Parse(o.Controller); err != nil || u.Host == "" {
		return fmt.Errorf("ziti controller %q is not a URL", o.Controller)
	}
	err := Handshake(ctx, o.Controller, pool, o.Timeout)
	var untrusted *UntrustedError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &untrusted):
		o.Logger.Debug("could not reach the ziti controller to check its CA bundle", "controller", o.Controller, "err", err)
		return nil
	case o.PinFile == "":
		return untrusted.Err
	}
	return fmt.Errorf("%w (pinned in %s on first use): %v; if the controller's CA was replaced on purpose, delete %s to trust the new bundle on the next start, or give the bundle explicitly (OpenZitiCAFile, ziti.caCert)",
		ErrChanged, o.PinFile, untrusted.Err, o.PinFile)
}

// NoProxy is the proxy function for every connection to a controller:
// none. The SDK's default, HTTP(S)_PROXY from the environment, would send
// JWTs, enrolment tokens and the administrator's password to whoever runs
// the proxy.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }
