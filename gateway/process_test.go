package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/jwtauth"
)

// stubVerifier accepts "token-<name>[.<anything>]" as the caller <name>. It stands in
// for jwtauth in the tests of NGINX's wiring; the integration test uses the
// real verifier against Vault.
type stubVerifier struct{}

func (stubVerifier) Verify(_ context.Context, token string) (*jwtauth.Claims, error) {
	if name, ok := strings.CutPrefix(token, "token-"); ok && name != "" {
		name, _, _ = strings.Cut(name, ".")
		return &jwtauth.Claims{Name: name}, nil
	}
	return nil, &jwtauth.Error{Reason: jwtauth.ErrSignature}
}

// echoed is what the test upstream answers: what it received.
type echoed struct {
	Path          string `json:"path"`
	Query         string `json:"query"`
	Caller        string `json:"caller"`
	Callers       int    `json:"callers"`
	Authorization bool   `json:"authorization"`
	Method        string `json:"method"`
	BodyLen       int    `json:"bodyLen"`
	Padding       string `json:"padding,omitempty"`
}

// echoHandler answers every request with what it received.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pad, _ := strconv.Atoi(r.URL.Query().Get("pad"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{
			Path: r.URL.Path, Query: r.URL.RawQuery, Method: r.Method,
			Caller: r.Header.Get(CallerHeader), Callers: len(r.Header.Values(CallerHeader)),
			Authorization: r.Header.Get("Authorization") != "",
			BodyLen:       len(body), Padding: strings.Repeat("x", pad),
		})
	})
}

// freePort returns a loopback address that is free right now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startGateway starts nginx for cfg and stops it at the end of the test.
func startGateway(t testing.TB, cfg Config) *Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping nginx: %v", err)
		}
	})
	return p
}

// gatewayClient returns a TLS 1.3 client trusting the gateway's certificate.
func gatewayClient(t testing.TB, certFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", certFile)
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type result struct {
	status int
	body   echoed
	header http.Header
}

// get sends a request with optional bearer token and extra headers.
func get(t testing.TB, c *http.Client, method, url, token string, headers ...string) result {
	t.Helper()
	return send(t, c, method, url, token, nil, headers...)
}

// send is get with a request body.
func send(t testing.TB, c *http.Client, method, url, token string, body []byte, headers ...string) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, data, err)
		}
	}
	return r
}

func TestGatewayWiring(t *testing.T) {
	stacktest.Integration(t)
	upstream := httptest.NewServer(echoHandler())
	defer upstream.Close()
	auth := httptest.NewServer(NewAuthHandler(stubVerifier{}, nil))
	defer auth.Close()

	dir := t.TempDir()
	cfg := Config{
		Listen:   freePort(t),
		StateDir: filepath.Join(dir, "gw"),
		AuthURL:  auth.URL,
		Services: map[string]string{"core-data": upstream.URL, "core-metadata": upstream.URL + "/meta"},
	}
	p := startGateway(t, cfg)
	base := "https://" + p.Addr
	c := gatewayClient(t, p.Config.CertFile)

	// Files: certificate and key private, nginx.conf as rendered.
	for _, f := range []string{p.Config.CertFile, p.Config.KeyFile, p.Config.ConfigFile()} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 0600", f, st.Mode().Perm())
		}
	}

	t.Run("no token is 401 with a challenge", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading", "")
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("bad token is 401 invalid_token", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading", "forged")
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 invalid_token", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("valid token reaches the upstream with the caller and the prefix stripped", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading/all?limit=5", "token-alice")
		if r.status != 200 || r.body.Caller != "alice" || r.body.Callers != 1 || r.body.Path != "/api/v3/reading/all" || r.body.Query != "limit=5" {
			t.Errorf("got %d %+v; want 200 from /api/v3/reading/all?limit=5 with caller alice", r.status, r.body)
		}
		r = get(t, c, "POST", base+"/core-metadata/api/v3/device", "token-bob")
		if r.status != 200 || r.body.Caller != "bob" || r.body.Path != "/meta/api/v3/device" || r.body.Method != "POST" {
			t.Errorf("got %d %+v; want 200 POST /meta/api/v3/device with caller bob", r.status, r.body)
		}
	})
	t.Run("large bodies and answers pass (in memory)", func(t *testing.T) {
		// As root, nginx's workers run as nobody and could not write
		// temporary files in the private state folder.
		r := send(t, c, "POST", base+"/core-data/api/v3/event?pad=3000000", "token-alice", bytes.Repeat([]byte("r"), 900<<10))
		if r.status != 200 || r.body.BodyLen != 900<<10 || len(r.body.Padding) != 3000000 {
			t.Errorf("got %d, body %d bytes in, %d out; want 200 with 921600 in and 3000000 out", r.status, r.body.BodyLen, len(r.body.Padding))
		}
		if r := send(t, c, "POST", base+"/core-data/api/v3/event", "token-alice", bytes.Repeat([]byte("r"), 2<<20)); r.status != 413 {
			t.Errorf("a 2 MiB body: status %d, want 413", r.status)
		}
	})
	t.Run("a client-sent caller header is replaced or dropped", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/x", "token-alice", CallerHeader, "admin", "x-ztedge-caller", "root")
		if r.status != 200 || r.body.Caller != "alice" || r.body.Callers != 1 {
			t.Errorf("got %d %+v; want caller alice only", r.status, r.body)
		}
		r = get(t, c, "GET", base+"/core-data/api/v3/ping", "", CallerHeader, "admin")
		if r.status != 200 || r.body.Callers != 0 {
			t.Errorf("ping: got %d %+v; want 200 without a caller header", r.status, r.body)
		}
		r = get(t, c, "GET", base+"/core-data/api/v3/x", "", CallerHeader, "admin")
		if r.status != 401 {
			t.Errorf("a caller header without token: status %d, want 401", r.status)
		}
	})
	t.Run("ping needs no token", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/ping", "")
		if r.status != 200 || r.body.Path != "/api/v3/ping" || r.body.Authorization {
			t.Errorf("got %d %+v; want 200 from /api/v3/ping", r.status, r.body)
		}
		if r := get(t, c, "POST", base+"/core-data/api/v3/ping", ""); r.status != 403 {
			t.Errorf("POST ping: status %d, want 403", r.status)
		}
		if r := get(t, c, "GET", base+"/core-data/api/v3/ping/more", ""); r.status != 401 {
			t.Errorf("a path below ping: status %d, want 401", r.status)
		}
	})
	t.Run("paths that escape the prefix are still guarded", func(t *testing.T) {
		for _, path := range []string{"/core-data/api/v3/ping/../reading", "/core-data/../core-metadata/api/v3/device", "/core-data/%2e%2e/core-metadata/x"} {
			if r := get(t, c, "GET", base+path, ""); r.status != 401 && r.status != 404 && r.status != 400 {
				t.Errorf("GET %s without token: status %d, want 401, 404 or 400", path, r.status)
			}
		}
	})
	t.Run("other paths are 404, /auth is internal", func(t *testing.T) {
		for _, path := range []string{"/", "/core-command/api/v3/ping", "/auth", "/api/v3/ping"} {
			if r := get(t, c, "GET", base+path, "token-alice"); r.status != 404 {
				t.Errorf("GET %s: status %d, want 404", path, r.status)
			}
		}
	})
	t.Run("TLS 1.2 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", p.Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.2 handshake succeeded")
		}
		conn, err = tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: c.Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS 1.3 handshake for localhost: %v", err)
		}
		if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("negotiated TLS version %x, want 1.3", v)
		}
		conn.Close()
	})
	t.Run("access log never holds tokens", func(t *testing.T) {
		_ = get(t, c, "GET", base+"/core-data/api/v3/x", "token-carol.secretvalue")
		time.Sleep(200 * time.Millisecond)
		data, err := os.ReadFile(p.Config.AccessLog())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "secretvalue") {
			t.Errorf("the access log holds a token:\n%s", data)
		}
		if !strings.Contains(string(data), "caller=carol ") {
			t.Errorf("the access log does not name the caller:\n%s", data)
		}
	})

	// Stop, then a restart reuses the generated certificate.
	certBefore, _ := os.ReadFile(p.Config.CertFile)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		t.Error("the gateway port still answers after Stop")
	}
	p2 := startGateway(t, cfg)
	certAfter, _ := os.ReadFile(p2.Config.CertFile)
	if string(certBefore) != string(certAfter) {
		t.Error("a restart replaced the generated certificate")
	}
}

func TestStartRefusesBadSetups(t *testing.T) {
	stacktest.Integration(t)
	upstream := httptest.NewServer(echoHandler())
	defer upstream.Close()
	base := func(t *testing.T) Config {
		return Config{Listen: freePort(t), StateDir: t.TempDir(), Services: map[string]string{"core-data": upstream.URL}}
	}
	ctx := t.Context()

	t.Run("missing nginx", func(t *testing.T) {
		cfg := base(t)
		cfg.Nginx = "/nonexistent/nginx"
		_, err := Start(ctx, cfg, nil)
		if !errors.Is(err, ErrNginxNotInstalled) || !strings.Contains(err.Error(), "apt-get install nginx") {
			t.Fatalf("err = %v, want ErrNginxNotInstalled", err)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cfg := base(t)
		cfg.Listen = l.Addr().String()
		if _, err := Start(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "not free") {
			t.Fatalf("err = %v, want the port reported as not free", err)
		}
	})
	t.Run("nginx -t output is reported", func(t *testing.T) {
		cfg := base(t)
		cfg.User = "no-such-user-zt"
		_, err := Start(ctx, cfg, nil)
		if os.Geteuid() != 0 {
			// Without root nginx ignores "user"; nothing to provoke here.
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), "nginx -t") || !strings.Contains(err.Error(), "no-such-user-zt") {
			t.Fatalf("err = %v, want nginx -t's complaint about the user", err)
		}
	})
	t.Run("user certificate must match its key", func(t *testing.T) {
		dir := t.TempDir()
		c1, k1 := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
		c2, k2 := filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")
		for _, pair := range [][2]string{{c1, k1}, {c2, k2}} {
			if _, err := EnsureCertificate(pair[0], pair[1], nil); err != nil {
				t.Fatal(err)
			}
		}
		cfg := base(t)
		cfg.CertFile, cfg.KeyFile = c1, k2
		if _, err := Start(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), c1) {
			t.Fatalf("err = %v, want one naming %s", err, c1)
		}
		// The matching pair works, and is not replaced.
		cfg.KeyFile = k1
		before, _ := os.ReadFile(c1)
		p := startGateway(t, cfg)
		after, _ := os.ReadFile(c1)
		if string(before) != string(after) {
			t.Error("a user certificate was replaced")
		}
		_ = p.Stop()
	})
}

func TestEnsureCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls", "c.pem"), filepath.Join(dir, "tls", "k.pem")
	created, err := EnsureCertificate(cert, key, nil)
	if err != nil || !created {
		t.Fatalf("first call: created %v, err %v", created, err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, f := range []string{cert, key} {
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 0600", f, st.Mode().Perm())
		}
	}
	if created, err := EnsureCertificate(cert, key, nil); err != nil || created {
		t.Errorf("second call: created %v, err %v; want the pair kept", created, err)
	}
	if created, err := EnsureCertificate(cert, key, []string{"gw.example"}); err != nil || !created {
		t.Errorf("new host: created %v, err %v; want a new pair", created, err)
	}
	_ = os.Remove(key)
	if _, err := EnsureCertificate(cert, key, nil); err == nil || !strings.Contains(err.Error(), "does not") {
		t.Errorf("missing key: err = %v", err)
	}
}
