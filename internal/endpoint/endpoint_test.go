package endpoint_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/endpoint"
)

func TestBase(t *testing.T) {
	for _, ok := range []string{"https://vault.example:8200", "https://vault.example:8200/", "http://127.0.0.1:8200", "https://[::1]:8200", "https://vault.example"} {
		u, err := endpoint.Base(ok, "http", "https")
		require.NoError(t, err, ok)
		assert.NotEmpty(t, u.Hostname(), ok)
	}
	for raw, want := range map[string]string{
		"https://:8200":                              "names no host",
		"https://vault:99999":                        "port 99999 is out of range",
		"https://vault:0":                            "port 0 is out of range",
		"https://vault:8200/v1":                      "without a path",
		"https://vault:8200/?x=1":                    "without a path or query",
		"ftp://vault:8200":                           "the scheme must be http or https",
		"vault:8200":                                 "the scheme must be",
		"https://user:secretpw@vault.example:8200":   "must not hold a user or password",
		"https://user:secretpw@vault.example:8200/%": "is not a URL",
		"https://admin:se/cretpw@vault.example:8200": "",
		"https://admin:se?cretpw@vault.example:8200": "",
		"https://admin:se#cretpw@vault.example:8200": "",
		"admin:secretpw@ctrl.example:1280":           "",
		"https://vault:8200/?token=secretpw":         "without a path or query",
		"":                                           "the scheme must be",
	} {
		_, err := endpoint.Base(raw, "http", "https")
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), want, raw)
		assert.NotContains(t, err.Error(), "secretpw", "%q: the error repeats the password", raw)
		assert.NotContains(t, err.Error(), "cretpw", "%q: the error repeats part of the password", raw)
	}
}

func TestURLAllowsAPath(t *testing.T) {
	u, err := endpoint.URL("https://vault.example:8200/v1/identity/oidc/.well-known/keys", "https")
	require.NoError(t, err)
	assert.Equal(t, "/v1/identity/oidc/.well-known/keys", u.Path)
	_, err = endpoint.URL("https://:8200/keys", "https")
	assert.ErrorContains(t, err, "names no host")
}

func ExampleBase() {
	_, err := endpoint.Base("https://vault.example:8200/v1", "https")
	fmt.Println(err)
	// Output: "https://vault.example:8200/v1" must be https://host:port only, without a path or query
}

func TestController(t *testing.T) {
	for in, want := range map[string]string{
		"ctrl.example:1280":                        "https://ctrl.example:1280",
		"https://ctrl.example:1280/":               "https://ctrl.example:1280",
		"https://ctrl.example:1280/edge/client/v1": "https://ctrl.example:1280",
		"https://[::1]:1280/edge/management/v1":    "https://[::1]:1280",
	} {
		got, err := endpoint.Controller(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"http://ctrl:1280", "https://:1", "ctrl:99999", "", "[fe80::1%25eth0]:1280"} {
		_, err := endpoint.Controller(bad)
		assert.Error(t, err, bad)
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{"core-data": "core-data", "edgex-core-data.svc.local": "edgex-core-data.svc.local",
		"10.0.0.7": "10.0.0.7", "::1": "::1", "[::1]": "::1", "0.0.0.0": "0.0.0.0", "edgex_redis": "edgex_redis"} {
		got, err := endpoint.Host(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "not a host", "http://10.0.0.7/", "10.0.0.7:80", "core-data/", "[core-data]", "-x", "a..b", "fe80::1%eth0", "[fe80::1%eth0]"} {
		_, err := endpoint.Host(bad)
		assert.Error(t, err, bad)
	}
}
