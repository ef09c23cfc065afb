package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startGateway starts nginx for cfg and stops it at the end of the test.
func startGateway(t testing.TB, cfg Config) *Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg, nil)
	require.NoError(t, err, "starting the gateway")
	t.Cleanup(func() {
		assert.NoError(t, p.Stop(), "stopping nginx")
	})
	return p
}

// gatewayClient returns a TLS 1.3 client trusting the gateway's certificate.
func gatewayClient(t testing.TB, certFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem), "no certificate in %s", certFile)
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
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(data, &r.body), "%s %s: decoding %q", method, url, data)
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
		Services: map[string]string{"core-data": upstream.URL, "core-metadata": upstream.URL + "/meta",
			"closed": "http://" + freePort(t)}, // nothing listens there
	}
	p := startGateway(t, cfg)
	base := "https://" + p.Addr
	c := gatewayClient(t, p.Config.CertFile)

	// Files: certificate and key private, nginx.conf as rendered.
	for _, f := range []string{p.Config.CertFile, p.Config.KeyFile, p.Config.ConfigFile()} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "mode of %s", f)
	}

	t.Run("no token is 401 with a challenge", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading", "")
		assert.Equal(t, 401, r.status)
		assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer "), "WWW-Authenticate %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
	})
	t.Run("bad token is 401 invalid_token", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading", "forged")
		assert.Equal(t, 401, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)
	})
	t.Run("valid token reaches the upstream with the caller and the prefix stripped", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/reading/all?limit=5", "token-alice")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "alice", r.body.Caller)
		assert.Equal(t, 1, r.body.Callers, "caller headers")
		assert.Equal(t, "/api/v3/reading/all", r.body.Path)
		assert.Equal(t, "limit=5", r.body.Query)
		r = get(t, c, "POST", base+"/core-metadata/api/v3/device", "token-bob")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "bob", r.body.Caller)
		assert.Equal(t, "/meta/api/v3/device", r.body.Path)
		assert.Equal(t, "POST", r.body.Method)
	})
	t.Run("large bodies and answers pass (in memory)", func(t *testing.T) {
		// As root, nginx's workers run as nobody and could not write
		// temporary files in the private state folder.
		r := send(t, c, "POST", base+"/core-data/api/v3/event?pad=3000000", "token-alice", bytes.Repeat([]byte("r"), 900<<10))
		assert.Equal(t, 200, r.status)
		assert.Equal(t, 900<<10, r.body.BodyLen, "body bytes in")
		assert.Equal(t, 3000000, len(r.body.Padding), "body bytes out")
		r = send(t, c, "POST", base+"/core-data/api/v3/event", "token-alice", bytes.Repeat([]byte("r"), 2<<20))
		assert.Equal(t, 413, r.status, "a 2 MiB body")
	})
	t.Run("a client-sent caller header is replaced or dropped", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/x", "token-alice", CallerHeader, "admin", "x-ztedge-caller", "root")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "alice", r.body.Caller)
		assert.Equal(t, 1, r.body.Callers, "caller headers: want alice's only")
		r = get(t, c, "GET", base+"/core-data/api/v3/ping", "", CallerHeader, "admin")
		assert.Equal(t, 200, r.status, "ping: %+v", r.body)
		assert.Equal(t, 0, r.body.Callers, "ping: want no caller header")
		r = get(t, c, "GET", base+"/core-data/api/v3/x", "", CallerHeader, "admin")
		assert.Equal(t, 401, r.status, "a caller header without token")
	})
	t.Run("ping needs no token", func(t *testing.T) {
		r := get(t, c, "GET", base+"/core-data/api/v3/ping", "")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Equal(t, "/api/v3/ping", r.body.Path)
		assert.False(t, r.body.Authorization, "ping got an Authorization header")
		assert.Equal(t, 403, get(t, c, "POST", base+"/core-data/api/v3/ping", "").status, "POST ping")
		assert.Equal(t, 401, get(t, c, "GET", base+"/core-data/api/v3/ping/more", "").status, "a path below ping")
		r = get(t, c, "GET", base+"/core-data/api/v3/ping?ready", "")
		assert.Equal(t, 200, r.status, "%+v", r.body)
		assert.Empty(t, r.body.Query, "ping passed its query on: ?ready would show anyone the service's reasons")
	})
	t.Run("paths that escape the prefix are still guarded", func(t *testing.T) {
		for _, path := range []string{"/core-data/api/v3/ping/../reading", "/core-data/../core-metadata/api/v3/device", "/core-data/%2e%2e/core-metadata/x"} {
			assert.Contains(t, []int{401, 404, 400}, get(t, c, "GET", base+path, "").status, "GET %s without token: status", path)
		}
	})
	t.Run("other paths are 404, /auth is internal", func(t *testing.T) {
		for _, path := range []string{"/", "/core-command/api/v3/ping", "/auth", "/api/v3/ping"} {
			assert.Equal(t, 404, get(t, c, "GET", base+path, "token-alice").status, "GET %s", path)
		}
	})
	t.Run("TLS 1.2 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", p.Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
		}
		require.Error(t, err, "a TLS 1.2 handshake succeeded")
		conn, err = tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: c.Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "localhost"})
		require.NoError(t, err, "TLS 1.3 handshake for localhost")
		assert.Equal(t, uint16(tls.VersionTLS13), conn.ConnectionState().Version, "negotiated TLS version")
		conn.Close()
	})
	t.Run("access log never holds tokens", func(t *testing.T) {
		_ = get(t, c, "GET", base+"/core-data/api/v3/x", "token-carol.secretvalue")
		time.Sleep(200 * time.Millisecond)
		data, err := os.ReadFile(p.Config.AccessLog())
		require.NoError(t, err)
		assert.NotContains(t, string(data), "secretvalue", "the access log holds a token")
		assert.Contains(t, string(data), "caller=carol ", "the access log does not name the caller")
	})
	t.Run("error log never holds query strings", func(t *testing.T) {
		r := get(t, c, "GET", base+"/closed/api/v3/x?access_token=querysecret", "token-carol")
		assert.Equal(t, 502, r.status)
		time.Sleep(200 * time.Millisecond)
		data, err := os.ReadFile(p.Config.ErrorLog())
		require.NoError(t, err)
		assert.NotContains(t, string(data), "querysecret", "the error log holds a request's query string")
	})

	// Stop, then a restart reuses the generated certificate.
	certBefore, _ := os.ReadFile(p.Config.CertFile)
	require.NoError(t, p.Stop())
	_, err := net.DialTimeout("tcp", p.Addr, time.Second)
	assert.Error(t, err, "the gateway port still answers after Stop")
	p2 := startGateway(t, cfg)
	certAfter, _ := os.ReadFile(p2.Config.CertFile)
	assert.Equal(t, string(certBefore), string(certAfter), "a restart replaced the generated certificate")
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
		require.ErrorIs(t, err, ErrNginxNotInstalled)
		require.ErrorContains(t, err, "apt-get install nginx")
	})
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		cfg := base(t)
		cfg.Listen = l.Addr().String()
		_, err = Start(ctx, cfg, nil)
		require.ErrorContains(t, err, "not free", "the port is to be reported as not free")
	})
	t.Run("nginx -t output is reported", func(t *testing.T) {
		cfg := base(t)
		cfg.User = "no-such-user-zt"
		_, err := Start(ctx, cfg, nil)
		if os.Geteuid() != 0 {
			// Without root nginx ignores "user"; nothing to provoke here.
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, "nginx -t")
		require.ErrorContains(t, err, "no-such-user-zt", "want nginx -t's complaint about the user")
	})
	t.Run("user certificate must match its key", func(t *testing.T) {
		dir := t.TempDir()
		c1, k1 := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
		c2, k2 := filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")
		for _, pair := range [][2]string{{c1, k1}, {c2, k2}} {
			_, err := EnsureCertificate(pair[0], pair[1], nil)
			require.NoError(t, err)
		}
		cfg := base(t)
		cfg.CertFile, cfg.KeyFile = c1, k2
		_, err := Start(ctx, cfg, nil)
		require.ErrorContains(t, err, c1)
		// The matching pair works, and is not replaced.
		cfg.KeyFile = k1
		before, _ := os.ReadFile(c1)
		p := startGateway(t, cfg)
		after, _ := os.ReadFile(c1)
		assert.Equal(t, string(before), string(after), "a user certificate was replaced")
		_ = p.Stop()
	})
}

func TestEnsureCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls", "c.pem"), filepath.Join(dir, "tls", "k.pem")
	created, err := EnsureCertificate(cert, key, nil)
	require.NoError(t, err, "first call")
	require.True(t, created, "first call: created")
	pair, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	leaf := pair.Leaf
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		assert.NoError(t, leaf.VerifyHostname(h), "certificate does not cover %s", h)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); assert.True(t, ok, "public key %T, want ECDSA P-256", leaf.PublicKey) {
		assert.Equal(t, elliptic.P256().Params().Name, pub.Curve.Params().Name, "curve")
	}
	for _, f := range []string{cert, key} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "mode of %s", f)
	}
	created, err = EnsureCertificate(cert, key, nil)
	assert.NoError(t, err, "second call")
	assert.False(t, created, "second call: want the pair kept")
	created, err = EnsureCertificate(cert, key, []string{"gw.example"})
	assert.NoError(t, err, "new host")
	assert.True(t, created, "new host: want a new pair")
	_ = os.Remove(key)
	_, err = EnsureCertificate(cert, key, nil)
	assert.ErrorContains(t, err, "does not", "missing key")
}
