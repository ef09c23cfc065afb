package gateway

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/configfile"
)

func testConfig(dir string) Config {
	return Config{
		Listen:   "127.0.0.1:18443",
		StateDir: dir,
		AuthURL:  "http://127.0.0.1:59842",
		Services: map[string]string{
			"core-data":     "http://127.0.0.1:59880",
			"core-metadata": "http://127.0.0.1:59881/base/",
		},
	}
}

// location returns the body of the location block with the given header.
func location(t *testing.T, conf, header string) string {
	t.Helper()
	open := "location " + header + " {"
	require.Contains(t, conf, open)
	body := conf[strings.Index(conf, open):]
	return body[:strings.Index(body, "\n        }")]
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	out, err := Render(testConfig(dir))
	require.NoError(t, err)
	conf := string(out)
	for _, want := range []string{
		"listen 127.0.0.1:18443 ssl default_server;",
		"ssl_protocols TLSv1.3;",
		`ssl_certificate "` + filepath.Join(dir, "tls", "gateway.crt") + `";`,
		`ssl_certificate_key "` + filepath.Join(dir, "tls", "gateway.key") + `";`,
		`pid "` + filepath.Join(dir, "nginx.pid") + `";`,
		`error_log "` + filepath.Join(dir, "logs", "error.log") + `" notice;`,
		`access_log "` + filepath.Join(dir, "logs", "access.log") + `" ztedge;`,
		`error_log "` + filepath.Join(dir, "logs", "error.log") + `" crit;`,
		`client_body_temp_path "` + filepath.Join(dir, "temp", "client_body") + `";`,
	} {
		assert.Contains(t, conf, want)
	}
	assert.NotRegexp(t, regexp.MustCompile(`TLSv1(\.[012])?\b`), strings.ReplaceAll(conf, "TLSv1.3", ""), "a TLS version below 1.3 is enabled")

	auth := location(t, conf, "= /auth")
	for _, want := range []string{"internal;", "proxy_pass http://127.0.0.1:59842/auth;", "proxy_pass_request_body off;",
		`proxy_set_header Content-Length "";`, "proxy_set_header Authorization $http_authorization;", "proxy_method GET;"} {
		assert.Contains(t, auth, want, "/auth location")
	}

	for name, up := range map[string]string{"core-data": "http://127.0.0.1:59880", "core-metadata": "http://127.0.0.1:59881/base"} {
		route := location(t, conf, "/"+name+"/")
		for _, want := range []string{
			"auth_request /auth;",
			"auth_request_set $ztedge_caller $upstream_http_x_ztedge_caller;",
			"proxy_pass " + up + "/;",
			"proxy_set_header X-Ztedge-Caller $ztedge_caller;",
		} {
			assert.Contains(t, route, want, "route /%s/", name)
		}
		ping := location(t, conf, "= /"+name+"/api/v3/ping")
		assert.NotContains(t, ping, "auth_request", "ping route of %s", name)
		for _, want := range []string{"proxy_pass " + up + "/api/v3/ping;", `proxy_set_header X-Ztedge-Caller "";`, "limit_except GET"} {
			assert.Contains(t, ping, want, "ping route of %s", name)
		}
	}
	// Every location that proxies to a service sets X-Ztedge-Caller itself:
	// otherwise a client-sent header would pass through.
	for _, block := range strings.Split(conf, "location ")[1:] {
		if strings.Contains(block, "proxy_pass") {
			assert.Contains(t, block, "proxy_set_header X-Ztedge-Caller", "a location proxies without overriding X-Ztedge-Caller")
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	cfg := testConfig("/var/lib/ztedge/gateway")
	a, err := Render(cfg)
	require.NoError(t, err)
	for range 5 {
		b, _ := Render(cfg)
		require.Equal(t, string(a), string(b), "Render gave different output for the same input")
	}
}

func TestRenderUserCertificate(t *testing.T) {
	cfg := testConfig("/srv/gw")
	cfg.CertFile, cfg.KeyFile = "/etc/ztedge/gw.pem", "/etc/ztedge/gw.key"
	out, err := Render(cfg)
	require.NoError(t, err)
	assert.Contains(t, string(out), `ssl_certificate "/etc/ztedge/gw.pem";`, "user certificate not used")
	assert.Contains(t, string(out), `ssl_certificate_key "/etc/ztedge/gw.key";`, "user certificate not used")
	assert.False(t, cfg.GeneratedCertificate(), "a user certificate counts as generated")
}

func TestRenderHTTPSUpstream(t *testing.T) {
	cfg := testConfig("/srv/gw")
	cfg.Services["core-command"] = "https://core-command.local:59882"
	_, err := Render(cfg)
	require.ErrorContains(t, err, "upstreamCAFile", "https upstream without CA")
	cfg.UpstreamCAFile = "/etc/ztedge/upstream-ca.pem"
	out, err := Render(cfg)
	require.NoError(t, err)
	route := location(t, string(out), "/core-command/")
	assert.Contains(t, route, "proxy_ssl_verify on;", "https upstream not verified")
	assert.Contains(t, route, `proxy_ssl_trusted_certificate "/etc/ztedge/upstream-ca.pem";`, "https upstream not verified")
}

func TestValidateNamesTheField(t *testing.T) {
	base := func() Config { return testConfig("/srv/gw") }
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no state dir", func(c *Config) { c.StateDir = "" }, "stateDir is empty"},
		{"relative state dir", func(c *Config) { c.StateDir = "gw" }, "stateDir \"gw\" must be an absolute path"},
		{"state dir injection", func(c *Config) { c.StateDir = "/srv/gw; evil" }, "stateDir"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "listen \"127.0.0.1\""},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, "from 1 to 65535"},
		{"listen without host", func(c *Config) { c.Listen = ":8443" }, "the host is empty"},
		{"no services", func(c *Config) { c.Services = nil }, "services is empty"},
		{"bad service name", func(c *Config) { c.Services["Core_Data"] = "http://127.0.0.1:1" }, `name "Core_Data"`},
		{"bad upstream scheme", func(c *Config) { c.Services["core-data"] = "ftp://127.0.0.1:1" }, "services.core-data: upstream \"ftp://127.0.0.1:1\": must be an http:// or https:// URL"},
		{"upstream query", func(c *Config) { c.Services["core-data"] = "http://127.0.0.1:1/?a=b" }, "query"},
		{"upstream injection", func(c *Config) { c.Services["core-data"] = "http://127.0.0.1:1/;return" }, "services.core-data"},
		{"upstream variable", func(c *Config) { c.Services["core-data"] = "http://$host/" }, "services.core-data"},
		{"upstream no host", func(c *Config) { c.Services["core-data"] = "http:///x" }, "has no host"},
		{"auth url", func(c *Config) { c.AuthURL = "unix:/run/x.sock" }, "authURL"},
		{"cert without key", func(c *Config) { c.CertFile = "/etc/gw.pem" }, "certFile and keyFile must be given together"},
		{"relative key", func(c *Config) { c.CertFile, c.KeyFile = "/etc/gw.pem", "gw.key" }, "keyFile \"gw.key\" must be an absolute path"},
		{"ping path", func(c *Config) { c.PingPath = "api/v3/ping" }, "pingPath"},
		{"user", func(c *Config) { c.User = "root;" }, "user \"root;\""},
		{"nginx", func(c *Config) { c.Nginx = "nginx" }, "nginx \"nginx\" must be an absolute path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			c.Services = map[string]string{"core-data": "http://127.0.0.1:59880"}
			tc.edit(&c)
			_, err := Render(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	write := func(s string) {
		require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
	}
	write(`listen: 127.0.0.1:9443
stateDir: state
services:
  core-data: http://127.0.0.1:59880
`)
	c, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "state"), c.StateDir, "stateDir relative to the file")
	assert.Equal(t, DefaultAuthURL, c.AuthURL, "default authURL")
	assert.Equal(t, DefaultPingPath, c.PingPath, "default pingPath")
	assert.True(t, c.GeneratedCertificate(), "a generated certificate by default")
	write("listen: 127.0.0.1:9443\nstatedir: x\n")
	_, err = LoadConfig(path)
	assert.EqualError(t, err, "gateway: configuration "+path+`: line 2: unknown field "statedir"`)
	write("stateDir: /srv/gw\nservices: core-data\n")
	_, err = LoadConfig(path)
	assert.EqualError(t, err, "gateway: configuration "+path+`: line 2: services: "core-data" must be a mapping, not a single value`)
	write("# nothing yet\n")
	_, err = LoadConfig(path)
	assert.EqualError(t, err, "gateway: configuration "+path+": the file is empty")
}

// Every error of the package's exported functions starts with
// "gateway: ", once.
func TestErrorsCarryThePrefixOnce(t *testing.T) {
	dir := t.TempDir()
	invalid := Config{StateDir: "relative", Services: map[string]string{"core-data": "http://127.0.0.1:59880"}}
	file := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(file, []byte("stateDir: /srv/gw\nlisten: nowhere\nservices:\n  core-data: ftp://x\n"), 0o600))
	cert, key := filepath.Join(dir, "tls", "gw.crt"), filepath.Join(dir, "tls", "gw.key")
	require.NoError(t, os.MkdirAll(filepath.Dir(cert), 0o700))
	require.NoError(t, os.WriteFile(cert, []byte("x"), 0o600))

	errs := map[string]error{}
	_, errs["LoadConfig missing"] = LoadConfig(filepath.Join(dir, "missing.yaml"))
	_, errs["LoadConfig invalid"] = LoadConfig(file)
	errs["Config.Validate"] = invalid.Validate()
	_, errs["Render"] = Render(invalid)
	_, errs["Prepare"] = Prepare(invalid)
	_, errs["Start"] = Start(context.Background(), invalid, nil)
	_, errs["FindNginx"] = FindNginx(filepath.Join(dir, "no-nginx"))
	errs["Test"] = Test(context.Background(), filepath.Join(dir, "no-nginx"), &Config{StateDir: dir})
	errs["CheckCertificate"] = CheckCertificate(cert, key)
	_, errs["EnsureCertificate"] = EnsureCertificate(cert, key, nil)
	for name, err := range errs {
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "gateway: "), "%s: %v", name, err)
		assert.Equal(t, 1, strings.Count(err.Error(), "gateway: "), "%s: %v", name, err)
	}
	assert.ErrorIs(t, errs["FindNginx"], ErrNginxNotInstalled)
	assert.ErrorContains(t, errs["LoadConfig invalid"], "gateway: configuration "+file+`: listen "nowhere": want host:port`)
}

// Paths may start with ~/ (the user's home folder), and a configuration
// file is at most 4 MiB.
func TestLoadConfigHomeAndSizeLimit(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`stateDir: ~/.local/state/ztedge/gateway
zitiIdentity: clients/gateway.json
upstreamCAFile: ~/ca.pem
services:
  core-data: zerotrust:core-data
`), 0o600))
	c, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".local", "state", "ztedge", "gateway"), c.StateDir)
	assert.Equal(t, filepath.Join(home, "ca.pem"), c.UpstreamCAFile)
	assert.Equal(t, filepath.Join(dir, "clients", "gateway.json"), c.ZitiIdentity)

	require.NoError(t, os.WriteFile(path, []byte("stateDir: ~root/state\nservices:\n  core-data: http://127.0.0.1:59880\n"), 0o600))
	_, err = LoadConfig(path)
	assert.ErrorContains(t, err, "gateway: configuration "+path+": stateDir: ~root/state: only ~/ (your own home folder) is supported, not ~user/")

	_, err = LoadConfig("/dev/zero")
	require.ErrorIs(t, err, configfile.ErrTooLarge)
	assert.ErrorContains(t, err, "gateway: reading the configuration: /dev/zero: larger than 4 MiB")
}
