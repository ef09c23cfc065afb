package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrepareRefusesAStateFolderOthersCanChange(t *testing.T) {
	c := testConfig(filepath.Join(t.TempDir(), "state"))
	_, err := Prepare(c)
	require.NoError(t, err, "a fresh state folder is created private")
	fi, err := os.Stat(c.StateDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	for _, sub := range []string{"", logsDirName, tlsDirName} {
		d := filepath.Join(c.StateDir, sub)
		require.NoError(t, os.Chmod(d, 0o770))
		_, err := Prepare(c)
		assert.ErrorContains(t, err, "is writable by group or others", "folder %q group-writable", sub)
		require.NoError(t, os.Chmod(d, 0o700))
	}
	if os.Getuid() == 0 {
		require.NoError(t, os.Chown(filepath.Join(c.StateDir, logsDirName), 65534, 65534))
		_, err := Prepare(c)
		assert.ErrorContains(t, err, "is owned by uid 65534")
		require.NoError(t, os.Chown(filepath.Join(c.StateDir, logsDirName), 0, 0))
	}
	// A symbolic link in place of logs/ is refused, not followed.
	elsewhere := t.TempDir()
	require.NoError(t, os.RemoveAll(filepath.Join(c.StateDir, logsDirName)))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(c.StateDir, logsDirName)))
	_, err = Prepare(c)
	assert.ErrorContains(t, err, "is a symbolic link")
}

func TestLogsAreNotWrittenThroughPlantedLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o600))
	link := filepath.Join(dir, stderrName)
	require.NoError(t, os.Symlink(target, link))
	_, err := openLog(link)
	require.Error(t, err)
	b, _ := os.ReadFile(target)
	assert.Equal(t, "keep me", string(b), "the link's target must not be truncated")
	f, err := openLog(filepath.Join(dir, "fresh.log"))
	require.NoError(t, err)
	f.Close()
}

func TestPrepareRefusesAKeyOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	gen := testConfig(dir)
	_, err := Prepare(gen)
	require.NoError(t, err)
	// The generated pair, given as the user's own certificate and key.
	own := testConfig(t.TempDir())
	own.CertFile, own.KeyFile = filepath.Join(gen.StateDir, tlsDirName, certName), filepath.Join(gen.StateDir, tlsDirName, keyName)
	_, err = Prepare(own)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(own.KeyFile, 0o644))
	_, err = Prepare(own)
	assert.ErrorContains(t, err, "must not be readable by others")
	require.NoError(t, os.Chmod(own.KeyFile, 0o640))
	_, err = Prepare(own)
	assert.NoError(t, err, "a key its group may read (Debian's ssl-cert) is fine")
}

func TestGeneratedCertificateIsALeaf(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_, err := EnsureCertificate(cert, key, nil)
	require.NoError(t, err)
	pair, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	assert.False(t, pair.Leaf.IsCA)
	assert.Zero(t, pair.Leaf.KeyUsage&x509.KeyUsageCertSign, "it must not be able to sign certificates")
	// It is still trusted as itself.
	pool := x509.NewCertPool()
	pool.AddCert(pair.Leaf)
	_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"})
	assert.NoError(t, err)
}

func TestAccessLogHasNoQueryString(t *testing.T) {
	conf := string(render(func() *Config { c := testConfig(t.TempDir()); c.SetDefaults(); return &c }()))
	assert.NotContains(t, conf, `"$request"`)
	assert.NotContains(t, conf, "$request_uri")
	assert.NotContains(t, conf, "$query_string")
	format := regexp.MustCompile(`(?m)^\s*log_format .*$`).FindString(conf)
	assert.NotContains(t, format, "$args")
	assert.Contains(t, format, "$uri")
}

func TestExampleConfigKeepsItsStateOutOfTmp(t *testing.T) {
	b, err := os.ReadFile("../examples/gateway.yaml")
	require.NoError(t, err)
	assert.NotContains(t, string(b), "/tmp")
	c, err := LoadConfig("../examples/gateway.yaml")
	require.NoError(t, err)
	home, _ := os.UserHomeDir()
	assert.True(t, strings.HasPrefix(c.StateDir, home), "stateDir %s is under the home folder", c.StateDir)
}
