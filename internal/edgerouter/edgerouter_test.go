package edgerouter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func testConfig(t *testing.T) Config {
	return Config{
		Name: "node-a", Dir: filepath.Join(t.TempDir(), "node-a"), Controller: "198.18.0.1:1280",
		Advertise: "198.18.0.2", Bind: netip.MustParseAddr("198.18.0.2"), Port: 3022,
	}
}

// rendered parses the configuration Render writes.
func rendered(t *testing.T, c Config) map[string]any {
	t.Helper()
	b, err := c.Render()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	return m
}

func TestRenderBindsOnlyTheGivenAddress(t *testing.T) {
	c := testConfig(t)
	m := rendered(t, c)
	assert.Equal(t, 3, m["v"])
	assert.Equal(t, "tls:198.18.0.1:1280", m["ctrl"].(map[string]any)["endpoint"])
	assert.Equal(t, []any{map[string]any{
		"binding": "edge", "address": "tls:198.18.0.2:3022", "options": map[string]any{"advertise": "198.18.0.2:3022"},
	}}, m["listeners"], "one listener, for SDKs, on the node's address only")
	link := m["link"].(map[string]any)
	assert.NotContains(t, link, "listeners", "no link listener: the router dials its links")
	assert.Equal(t, []any{map[string]any{
		"binding": "transport",
		// A link is dialed again within 5 s, not after up to a minute.
		"healthyDialBackoff":   map[string]any{"retryBackoffFactor": 1.5, "minRetryInterval": "1s", "maxRetryInterval": "5s"},
		"unhealthyDialBackoff": map[string]any{"retryBackoffFactor": 2, "minRetryInterval": "2s", "maxRetryInterval": "5s"},
	}}, link["dialers"])
	sans := m["edge"].(map[string]any)["csr"].(map[string]any)["sans"].(map[string]any)
	assert.Equal(t, []any{"198.18.0.2"}, sans["ip"])
	assert.NotContains(t, sans, "dns")
	id := m["identity"].(map[string]any)
	assert.Equal(t, filepath.Join(c.Dir, "node-a.key"), id["key"])
	b, _ := c.Render()
	assert.NotContains(t, string(b), "0.0.0.0")
}

func TestRenderLinkListenerTunnelerAndName(t *testing.T) {
	c := testConfig(t)
	c.Advertise, c.LinkPort, c.Tunneler = "node-a.example.net", 10080, true
	m := rendered(t, c)
	assert.Equal(t, []any{map[string]any{
		"binding": "transport", "bind": "tls:198.18.0.2:10080", "advertise": "tls:node-a.example.net:10080",
	}}, m["link"].(map[string]any)["listeners"])
	listeners := m["listeners"].([]any)
	require.Len(t, listeners, 2)
	assert.Equal(t, "node-a.example.net:3022", listeners[0].(map[string]any)["options"].(map[string]any)["advertise"])
	assert.Equal(t, map[string]any{"binding": "tunnel", "options": map[string]any{"mode": "host"}}, listeners[1])
	sans := m["edge"].(map[string]any)["csr"].(map[string]any)["sans"].(map[string]any)
	assert.Equal(t, []any{"node-a.example.net"}, sans["dns"])
	assert.Equal(t, []any{"198.18.0.2"}, sans["ip"], "the bound address too")

	c.Bind = netip.MustParseAddr("2001:db8::2")
	m = rendered(t, c)
	assert.Equal(t, "tls:[2001:db8::2]:3022", m["listeners"].([]any)[0].(map[string]any)["address"])
}

func TestValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no name":          func(c *Config) { c.Name = "" },
		"relative folder":  func(c *Config) { c.Dir = "routers/a" },
		"no advertise":     func(c *Config) { c.Advertise = "" },
		"advertise any":    func(c *Config) { c.Advertise = "0.0.0.0" },
		"advertise port":   func(c *Config) { c.Advertise = "node-a:3022" },
		"advertise yaml":   func(c *Config) { c.Advertise = "a\nb: c" },
		"bind any":         func(c *Config) { c.Bind = netip.IPv4Unspecified() },
		"no bind":          func(c *Config) { c.Bind = netip.Addr{} },
		"port":             func(c *Config) { c.Port = 0 },
		"link port":        func(c *Config) { c.LinkPort = 70000 },
		"controller":       func(c *Config) { c.Controller = "https://ctrl" },
		"controller empty": func(c *Config) { c.Controller = "" },
	} {
		c := testConfig(t)
		mutate(&c)
		err := c.Validate()
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "edgerouter: "), err.Error())
	}
}

// jwt makes an unsigned token with the given claims.
func jwt(t *testing.T, claims map[string]any) string {
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + enc.EncodeToString(b) + "." + enc.EncodeToString([]byte("sig"))
}

func TestParseToken(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok, err := ParseToken(jwt(t, map[string]any{"em": "erott", "iss": "https://ctrl.example:1280", "ctrls": []string{"tls:198.18.0.1:1280"}, "exp": exp.Unix()}))
	require.NoError(t, err)
	assert.True(t, exp.Equal(tok.Expires))
	ctrl, err := tok.Controller()
	require.NoError(t, err)
	assert.Equal(t, "198.18.0.1:1280", ctrl, "the control-plane endpoint, not the API")

	tok, err = ParseToken(jwt(t, map[string]any{"em": "erott", "iss": "https://ctrl.example:1280"}))
	require.NoError(t, err)
	ctrl, err = tok.Controller()
	require.NoError(t, err)
	assert.Equal(t, "ctrl.example:1280", ctrl, "else the issuer's host and port")

	_, err = ParseToken(jwt(t, map[string]any{"em": "ott"}))
	assert.ErrorContains(t, err, `enrolment method "ott" is not a router's`)
	_, err = ParseToken("not-a-token")
	assert.ErrorContains(t, err, "not a JWT")
}

func TestReadTokenRefusesAFileOthersMayRead(t *testing.T) {
	f := filepath.Join(t.TempDir(), "r.jwt")
	require.NoError(t, os.WriteFile(f, []byte(jwt(t, map[string]any{"em": "erott"})+"\n"), 0o644))
	_, err := ReadToken(f)
	assert.ErrorContains(t, err, "chmod 600")
	require.NoError(t, os.Chmod(f, 0o600))
	_, err = ReadToken(f)
	assert.NoError(t, err)
}

// fakeZiti writes a script that stands in for "ziti router enroll": it
// records its arguments and copies certificates made for names into the
// router's folder.
func fakeZiti(t *testing.T, c Config, names ...string) (bin, calls string) {
	t.Helper()
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	require.NoError(t, os.MkdirAll(certs, 0o700))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []string{c.certFile(), c.serverCertFile(), c.keyFile(), c.caFile()} {
		require.NoError(t, os.WriteFile(filepath.Join(certs, filepath.Base(f)), pemCert, 0o600))
	}
	calls = filepath.Join(dir, "calls")
	bin = filepath.Join(dir, "ziti")
	script := "#!/bin/sh\necho \"$@\" >> " + calls + "\ncp " + certs + "/* " + c.Dir + "/\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o700))
	return bin, calls
}

func TestPrepareEnrollsOnce(t *testing.T) {
	c := testConfig(t)
	bin, calls := fakeZiti(t, c, "198.18.0.2")
	tok, err := ParseToken(jwt(t, map[string]any{"em": "erott", "exp": time.Now().Add(time.Hour).Unix()}))
	require.NoError(t, err)
	var log strings.Builder
	ctx := context.Background()

	enrolled, err := Prepare(ctx, c, bin, tok, &log)
	require.NoError(t, err)
	assert.True(t, enrolled)
	b, err := os.ReadFile(calls)
	require.NoError(t, err)
	assert.Regexp(t, `^router enroll `+c.ConfigFile()+` --jwt \S+ --keyAlg EC\n$`, string(b))
	fi, err := os.Stat(c.ConfigFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	fi, err = os.Stat(c.Dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	leftovers, _ := filepath.Glob(filepath.Join(c.Dir, ".enrol-*"))
	assert.Empty(t, leftovers, "the token's temporary copy is removed")

	enrolled, err = Prepare(ctx, c, bin, nil, &log)
	require.NoError(t, err)
	assert.False(t, enrolled, "an enrolled router is not enrolled again")
	b, _ = os.ReadFile(calls)
	assert.Equal(t, 1, strings.Count(string(b), "enroll"))
	assert.Contains(t, log.String(), "router node-a is enrolled already")

	c.Advertise = "198.18.0.9"
	_, err = Prepare(ctx, c, bin, nil, &log)
	assert.ErrorContains(t, err, "router node-a was enrolled for another address")
}

func TestPrepareRefusesAnExpiredOrMissingToken(t *testing.T) {
	c := testConfig(t)
	bin, calls := fakeZiti(t, c, "198.18.0.2")
	_, err := Prepare(context.Background(), c, bin, nil, &strings.Builder{})
	assert.ErrorContains(t, err, "not enrolled and no enrolment token was given")
	tok, err := ParseToken(jwt(t, map[string]any{"em": "erott", "exp": time.Now().Add(-time.Minute).Unix()}))
	require.NoError(t, err)
	_, err = Prepare(context.Background(), c, bin, tok, &strings.Builder{})
	assert.ErrorContains(t, err, "expired")
	_, err = os.Stat(calls)
	assert.True(t, os.IsNotExist(err), "ziti was never called")
}

func TestPickLocal(t *testing.T) {
	local := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.5"): true, netip.MustParseAddr("127.0.0.1"): true}
	a, err := pickLocal("n", []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("10.0.0.5")}, local)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5", a.String())
	_, err = pickLocal("n", []netip.Addr{netip.MustParseAddr("203.0.113.1")}, local)
	assert.ErrorContains(t, err, "none of them an address of this host")
	_, err = pickLocal("n", []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("127.0.0.1")}, local)
	assert.ErrorContains(t, err, "several")
}

func TestBindAddressRefusesAnIPOfAnotherHost(t *testing.T) {
	locals := func() (map[netip.Addr]bool, error) {
		return map[netip.Addr]bool{netip.MustParseAddr("10.0.0.5"): true, netip.MustParseAddr("fe80::1"): true}, nil
	}
	ip, err := bindAddress(context.Background(), "10.0.0.5", locals)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5", ip.String())
	ip, err = bindAddress(context.Background(), "::ffff:10.0.0.5", locals)
	require.NoError(t, err, "an IPv4-mapped address is its IPv4 address")
	assert.True(t, ip.IsValid())
	_, err = bindAddress(context.Background(), "fe80::1%eth0", locals)
	require.NoError(t, err, "the zone is not part of the address")
	_, err = bindAddress(context.Background(), "8.8.8.8", locals)
	assert.ErrorContains(t, err, "the advertised address 8.8.8.8 is not an address of this host")

	// This host's loopback address is its own; a documentation address is not.
	ip, err = BindAddress(context.Background(), "127.0.0.1")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", ip.String())
	_, err = BindAddress(context.Background(), "192.0.2.77")
	assert.ErrorContains(t, err, "not an address of this host")
	assert.NoError(t, CheckLocal(netip.MustParseAddr("127.0.0.1")))
	assert.ErrorContains(t, CheckLocal(netip.MustParseAddr("192.0.2.77")), "the address to bind to 192.0.2.77 is not an address of this host")
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, `/usr/bin/ziti router run '/tmp/my dir/router.yaml' 'it'\''s'`,
		ShellQuote([]string{"/usr/bin/ziti", "router", "run", "/tmp/my dir/router.yaml", "it's"}))
}

func TestTCPRetriesNote(t *testing.T) {
	assert.Contains(t, tcpRetriesNote("15\n"), "net.ipv4.tcp_retries2 is 15", "Linux's default is worth a note")
	assert.Contains(t, tcpRetriesNote("15\n"), "set it to 5")
	assert.Empty(t, tcpRetriesNote("5\n"), "the recommended value")
	assert.Empty(t, tcpRetriesNote("3"), "lower is the operator's choice")
	assert.Empty(t, tcpRetriesNote("garbage"), "an unreadable value says nothing")
}
