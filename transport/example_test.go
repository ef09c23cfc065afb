package transport_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/transport"
	"github.com/ztedge/ztedge/zerotrust"
)

// Peers configured as plain are reached over TCP; hosts that are not
// configured clients are refused. (Zerotrust peers go over the overlay.)
func ExampleNewClient() {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "pong")
	}))
	defer peer.Close()
	u, _ := url.Parse(peer.URL)
	port, _ := strconv.Atoi(u.Port())

	cfg := &zerotrust.Config{
		// A plain service that accepts requests without JWTs: only for this example.
		Service: zerotrust.ServiceConfig{Port: 59880, SecurityOptions: zerotrust.SecurityOptions{zerotrust.KeyRequireJWT: "false"}},
		Clients: map[string]zerotrust.ClientConfig{"legacy": {Host: u.Hostname(), Port: port}},
	}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	client, err := transport.NewClient(cfg, nil, 5*time.Second)
	if err != nil {
		panic(err)
	}
	resp, err := client.Get(cfg.Clients["legacy"].BaseURL() + "/ping")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	_, err = client.Get("http://example.com/")
	fmt.Println(errors.Is(err, transport.ErrUnknownHost))
	// Output:
	// 200 OK
	// true
}
