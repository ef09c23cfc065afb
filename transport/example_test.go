package transport_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"

	"github.com/ztedge/ztedge/transport"
)

// Peers configured as plain are reached over TCP; hosts that are not
// configured peers are refused. (Overlay peers go over the overlay's
// dialer.) Services get such a client from zerotrust.Service.HTTPClient.
func ExampleNew() {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "pong")
	}))
	defer peer.Close()
	u, _ := url.Parse(peer.URL)
	port, _ := strconv.Atoi(u.Port())

	t, err := transport.New([]transport.Route{{Name: "legacy", Host: u.Hostname(), Port: port}}, nil)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: t, CheckRedirect: transport.CheckRedirect}
	resp, err := client.Get(peer.URL + "/ping")
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
