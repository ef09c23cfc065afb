package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouterJoinUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"router"},
		{"router", "leave"},
		{"router", "join"},
		{"router", "join", "Node_A"},
		{"router", "join", "node-a"},
		{"router", "join", "node-a", "-advertise", "198.18.0.2"},
		{"router", "join", "node-a", "-bind", "nowhere", "-advertise", "198.18.0.2", "-jwt", "x"},
		{"router", "join", "-print", "node-a", "-no-such-flag"},
		{"router", "join", "node-a", "node-b"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		assert.Equal(t, 2, exitCode(err, &stderr), "ztedge %q: %v", args, err)
	}
}

// routerTopology writes a topology declaring router node-a and returns
// its path and output folder.
func routerTopology(t *testing.T) (file, output string) {
	dir := t.TempDir()
	file = filepath.Join(dir, "topology.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
vault: {address: "http://198.18.0.1:8200"}
ziti: {controller: "198.18.0.1:1280"}
output: out
routers:
  - {name: node-a, advertise: 127.0.0.1, port: 4022, tunneler: true}
services:
  - name: alpha
    routers: [node-a]
`), 0o600))
	return file, filepath.Join(dir, "out")
}

// enrolledDir makes a router folder that looks enrolled for addr.
func enrolledDir(t *testing.T, name, addr string) string {
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(addr)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []string{".cert", ".server.chain.cert", ".key", ".cas"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+f), cert, 0o600))
	}
	return dir
}

func TestRouterJoinFromTopologyPrintsTheCommand(t *testing.T) {
	file, output := routerTopology(t)
	dir := enrolledDir(t, "node-a", "127.0.0.1")
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"em":"erott","ctrls":["tls:198.18.0.1:6262"],"exp":1}`))
	require.NoError(t, os.MkdirAll(filepath.Join(output, "routers"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(output, "routers", "node-a.jwt"), []byte("e30."+claims+".c2ln\n"), 0o600))

	var stdout, stderr bytes.Buffer
	// /bin/false as ziti: an enrolled router must not be enrolled again.
	err := run(t.Context(), []string{"router", "join", "node-a", "-f", file, "-dir", dir, "-ziti", "/bin/false", "-print"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, "/bin/false router run "+filepath.Join(dir, "router.yaml")+"\n", stdout.String())
	assert.Contains(t, stderr.String(), "router node-a is enrolled already")
	cfg, err := os.ReadFile(filepath.Join(dir, "router.yaml"))
	require.NoError(t, err)
	for _, want := range []string{"endpoint: tls:198.18.0.1:6262", "address: tls:127.0.0.1:4022", "advertise: 127.0.0.1:4022", "binding: tunnel"} {
		assert.Contains(t, string(cfg), want)
	}

	// Flags override the topology; the controller stays known without the token.
	require.NoError(t, os.Remove(filepath.Join(output, "routers", "node-a.jwt")))
	stdout.Reset()
	err = run(t.Context(), []string{"router", "join", "-f", file, "node-a", "-port", "5022", "-tunneler=false", "-dir", dir, "-ziti", "/bin/false", "-print"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	cfg, _ = os.ReadFile(filepath.Join(dir, "router.yaml"))
	assert.Contains(t, string(cfg), "endpoint: tls:198.18.0.1:6262")
	assert.Contains(t, string(cfg), "address: tls:127.0.0.1:5022")
	assert.NotContains(t, string(cfg), "tunnel")
}

func TestRouterJoinErrors(t *testing.T) {
	file, _ := routerTopology(t)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"router", "join", "node-b", "-f", file, "-dir", t.TempDir()}, &stdout, &stderr)
	assert.Equal(t, 1, exitCode(err, &stderr))
	assert.Contains(t, stderr.String(), `declares no router "node-b" under routers`)

	stderr.Reset()
	err = run(t.Context(), []string{"router", "join", "node-a", "-f", file, "-dir", t.TempDir(), "-ziti", "/bin/false"}, &stdout, &stderr)
	assert.Equal(t, 1, exitCode(err, &stderr))
	assert.Contains(t, stderr.String(), "token file")
	assert.True(t, strings.HasPrefix(stderr.String(), "ztedge: router join: "), stderr.String())
}

// An advertised IP address that is not this host's is refused before the
// one-time token is spent, unless -bind gives one of this host's.
func TestRouterJoinRefusesAnAdvertisedAddressOfAnotherHost(t *testing.T) {
	dir := t.TempDir()
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"em":"erott","ctrls":["tls:198.18.0.1:6262"],"exp":4102444800}`))
	jwt := filepath.Join(dir, "node-a.jwt")
	require.NoError(t, os.WriteFile(jwt, []byte("e30."+claims+".c2ln\n"), 0o600))
	calls := filepath.Join(dir, "calls")
	ziti := filepath.Join(dir, "ziti")
	require.NoError(t, os.WriteFile(ziti, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\nexit 1\n"), 0o700))
	join := func(extra ...string) error {
		var stdout, stderr bytes.Buffer
		args := append([]string{"router", "join", "node-a", "-jwt", jwt, "-dir", filepath.Join(dir, "router"), "-ziti", ziti, "-print"}, extra...)
		return run(t.Context(), args, &stdout, &stderr)
	}

	err := join("-advertise", "192.0.2.77")
	assert.ErrorContains(t, err, "the advertised address 192.0.2.77 is not an address of this host")
	err = join("-advertise", "192.0.2.77", "-bind", "192.0.2.78")
	assert.ErrorContains(t, err, "the address to bind to 192.0.2.78 is not an address of this host")
	assert.NoFileExists(t, calls, "ziti was never called: the token is not spent")

	// Behind NAT: the public address is advertised, this host's bound.
	err = join("-advertise", "192.0.2.77", "-bind", "127.0.0.1")
	require.Error(t, err, "the fake ziti fails the enrolment")
	assert.FileExists(t, calls, "the enrolment was tried")
}
