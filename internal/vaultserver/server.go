package vaultserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// WriteConfig writes p's server configuration: a TLS listener on listen
// (host:port, the cluster listener on port+1), file storage in p's data
// folder, and apiAddr (https://host:port) as the address Vault advertises,
// which is also the issuer of its identity tokens. WriteTLS must have run.
func WriteConfig(p Paths, listen, apiAddr string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("vaultserver: listen address %q: %w", listen, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65534 {
		return fmt.Errorf("vaultserver: listen port %q must be a number from 1 to 65534 (Vault also takes the next one)", port)
	}
	if !strings.HasPrefix(apiAddr, "https://") {
		return fmt.Errorf("vaultserver: api address %q must be https://", apiAddr)
	}
	if err := os.MkdirAll(p.DataDir(), 0o700); err != nil {
		return fmt.Errorf("vaultserver: create %s: %w", p.DataDir(), err)
	}
	cluster := net.JoinHostPort(host, strconv.Itoa(n+1))
	conf := fmt.Sprintf(`# Written by ztedge: Vault with TLS and file storage.
storage "file" {
  path = %q
}
listener "tcp" {
  address         = %q
  cluster_address = %q
  tls_cert_file   = %q
  tls_key_file    = %q
  tls_min_version = "tls12"
}
api_addr      = %q
cluster_addr  = %q
disable_mlock = true
ui            = false
`, p.DataDir(), listen, cluster, p.CertFile(), p.KeyFile(), apiAddr, "https://"+cluster)
	return writeFile(p.ConfigFile(), []byte(conf), 0o600)
}

// Args are the arguments of the vault binary that run p's server.
func Args(p Paths) []string { return []string{"server", "-config=" + p.ConfigFile()} }

// HTTPClient returns a client that trusts only p's CA. dial, when not nil,
// makes its connections (for example inside a network namespace).
func HTTPClient(p Paths, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*http.Client, error) {
	data, err := os.ReadFile(p.CAFile())
	if err != nil {
		return nil, fmt.Errorf("vaultserver: read the CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("vaultserver: %s holds no PEM certificate", p.CAFile())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: nil}
	if dial != nil {
		tr.DialContext = dial
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// initResult is what the init file keeps: Vault's answer to sys/init.
type initResult struct {
	Keys      []string `json:"keys_base64"`
	RootToken string   `json:"root_token"`
}

// Status is a server's seal status.
type Status struct {
	Initialized, Sealed bool
}

// SealStatus asks the server at addr whether it is initialised and sealed.
func SealStatus(ctx context.Context, c *http.Client, addr string) (Status, error) {
	var st struct {
		Initialized bool `json:"initialized"`
		Sealed      bool `json:"sealed"`
	}
	if err := call(ctx, c, http.MethodGet, addr+"/v1/sys/seal-status", nil, &st); err != nil {
		return Status{}, err
	}
	return Status{Initialized: st.Initialized, Sealed: st.Sealed}, nil
}

// Init initialises the server at addr with one unseal key if it is not
// initialised yet, keeping the key and the root token in p's init file
// (0600), and unseals it. It returns the root token. A server initialised
// before is only unsealed, with the key from the init file.
func Init(ctx context.Context, c *http.Client, addr string, p Paths) (rootToken string, err error) {
	st, err := SealStatus(ctx, c, addr)
	if err != nil {
		return "", err
	}
	if !st.Initialized {
		if exists(p.InitFile()) {
			return "", fmt.Errorf("vaultserver: %s exists but the server at %s is not initialised: its storage %s was replaced; remove the init file to start afresh", p.InitFile(), addr, p.DataDir())
		}
		var res initResult
		body := map[string]int{"secret_shares": 1, "secret_threshold": 1}
		if err := call(ctx, c, http.MethodPut, addr+"/v1/sys/init", body, &res); err != nil {
			return "", err
		}
		if len(res.Keys) == 0 || res.RootToken == "" {
			return "", errors.New("vaultserver: sys/init answered no unseal key or no root token")
		}
		data, err := json.Marshal(res)
		if err != nil {
			return "", fmt.Errorf("vaultserver: encode the init result: %w", err)
		}
		if err := writeFile(p.InitFile(), data, 0o600); err != nil {
			return "", err
		}
	}
	res, err := readInit(p)
	if err != nil {
		return "", err
	}
	if err := Unseal(ctx, c, addr, p); err != nil {
		return "", err
	}
	return res.RootToken, nil
}

// RootToken reads the root token from p's init file.
func RootToken(p Paths) (string, error) {
	res, err := readInit(p)
	if err != nil {
		return "", err
	}
	return res.RootToken, nil
}

func readInit(p Paths) (initResult, error) {
	var res initResult
	data, err := os.ReadFile(p.InitFile())
	if err != nil {
		return res, fmt.Errorf("vaultserver: read the unseal key: %w", err)
	}
	if err := json.Unmarshal(data, &res); err != nil || len(res.Keys) == 0 || res.RootToken == "" {
		return res, fmt.Errorf("vaultserver: %s is not an init result with an unseal key and a root token", p.InitFile())
	}
	return res, nil
}

// Unseal unseals the server at addr with the key in p's init file if it is
// sealed. It does nothing to an unsealed server.
func Unseal(ctx context.Context, c *http.Client, addr string, p Paths) error {
	st, err := SealStatus(ctx, c, addr)
	if err != nil {
		return err
	}
	if !st.Initialized {
		return fmt.Errorf("vaultserver: the server at %s is not initialised", addr)
	}
	if !st.Sealed {
		return nil
	}
	res, err := readInit(p)
	if err != nil {
		return err
	}
	var out struct {
		Sealed bool `json:"sealed"`
	}
	for _, k := range res.Keys {
		if err := call(ctx, c, http.MethodPut, addr+"/v1/sys/unseal", map[string]string{"key": k}, &out); err != nil {
			return err
		}
		if !out.Sealed {
			return nil
		}
	}
	return fmt.Errorf("vaultserver: the server at %s is still sealed after every key in %s", addr, p.InitFile())
}

// KeepUnsealed checks the server at addr every interval until ctx ends and
// unseals it whenever it is sealed (after a restart). unsealed, when not
// nil, is told of each unseal. Errors while the server is down are
// expected and ignored.
func KeepUnsealed(ctx context.Context, c *http.Client, addr string, p Paths, interval time.Duration, unsealed func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if st, err := SealStatus(ctx, c, addr); err == nil && st.Initialized && st.Sealed {
			if Unseal(ctx, c, addr, p) == nil && unsealed != nil {
				unsealed()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// call does one request to Vault's system API and decodes the JSON answer
// into out. Error messages carry the status and Vault's errors, never the
// request body (which may hold an unseal key).
func call(ctx context.Context, c *http.Client, method, url string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("vaultserver: encode the request: %w", err)
		}
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return fmt.Errorf("vaultserver: %s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("vaultserver: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("vaultserver: %s %s: %s %s", method, url, resp.Status, strings.Join(e.Errors, "; "))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("vaultserver: %s %s: unreadable answer: %w", method, url, err)
		}
	}
	return nil
}
