package transport

import (
	"errors"
	"net"
	"net/http"
	"strings"
)

// MaxRedirects is how many same-peer redirects [CheckRedirect] follows.
const MaxRedirects = 10

// ErrTooManyRedirects is returned after [MaxRedirects] redirects.
var ErrTooManyRedirects = errors.New("transport: stopped after 10 redirects")

// CheckRedirect is the redirect policy of a service's client
// (http.Client.CheckRedirect): it follows a redirect only to the same
// scheme, host and port as the first request, at most [MaxRedirects]
// times. A redirect elsewhere is not followed and the client returns the
// redirect response itself, so the service's JWT and a request body are
// never sent to a host the request did not name.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return ErrTooManyRedirects
	}
	first := via[0]
	if req.URL.Scheme != first.URL.Scheme || hostPort(req) != hostPort(first) {
		return http.ErrUseLastResponse
	}
	return nil
}

func hostPort(req *http.Request) string {
	return net.JoinHostPort(strings.ToLower(req.URL.Hostname()), portOf(req))
}
