package jwtauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/ztedge/ztedge/jwtauth"
)

// A service verifies the JWTs of its callers locally against Vault's keys
// and answers the ping path without a token.
func ExampleNewVerifier() {
	ctx := context.Background()
	issuer, keysURL, err := jwtauth.Discover(ctx, "http://127.0.0.1:8200", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := jwtauth.NewVerifier(ctx, jwtauth.Options{Issuer: issuer, Audiences: []string{"edgex"}, KeysURL: keysURL})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v3/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "pong") })
	_ = http.ListenAndServe("127.0.0.1:59880", jwtauth.Middleware(v, jwtauth.MiddlewareOptions{Exempt: []string{"/api/v3/ping"}})(mux))
}

// A client sends a JWT from its token source on every request.
// (zerotrust.Service.HTTPClient does this with the service's own JWT.)
func ExampleBearerTransport() {
	tokens := jwtauth.TokenSourceFunc(func(ctx context.Context) (string, error) {
		return os.Getenv("MY_JWT"), nil
	})
	client := &http.Client{Transport: jwtauth.BearerTransport(nil, tokens), Timeout: 10 * time.Second}
	resp, err := client.Get("http://127.0.0.1:59881/api/v3/device/all")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}
