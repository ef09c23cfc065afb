package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests with a real Vault and NGINX are in package gateway
// (TestIntegrationGateway, TestIntegrationProxyAuthRefusesToStart); these
// check the refusals that need no Vault.

func TestRefusesToStartWithoutOptions(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("ZTEDGE_AUDIENCE", "")
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}()
	notVault := httptest.NewServer(http.NotFoundHandler())
	defer notVault.Close()

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"nothing", nil, []string{"no Vault address"}},
		{"empty audience", []string{"-vault", closed, "-audience", ","}, []string{"no audience"}},
		{"unreachable", []string{"-vault", closed}, []string{"cannot reach Vault at " + closed}},
		{"not a vault", []string{"-vault", notVault.URL}, []string{"cannot reach Vault", "404"}},
		{"bad address", []string{"-vault", "127.0.0.1:8200"}, []string{"is not a URL such as https://host:port"}},
		{"negative cache", []string{"-vault", closed, "-cache-ttl", "-1s"}, []string{"-cache-ttl"}},
		{"log level", []string{"-vault", closed, "-log-level", "loud"}, []string{"-log-level"}},
		{"extra argument", []string{"-vault", closed, "serve"}, []string{"unexpected arguments"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			ready := make(chan string, 1)
			err := run(ctx, append([]string{"-listen", "127.0.0.1:0"}, tc.args...), &stderr, ready)
			if err == nil {
				t.Fatal("proxy-auth started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(ready) > 0 {
				t.Error("proxy-auth listened before failing")
			}
		})
	}
}

func TestRefusesAnIntrospectSettingItCannotRead(t *testing.T) {
	t.Setenv("ZTEDGE_INTROSPECT", "on")
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-vault", "http://127.0.0.1:1"}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), `ZTEDGE_INTROSPECT="on"`) {
		t.Fatalf("want an error naming ZTEDGE_INTROSPECT, got %v", err)
	}
}
