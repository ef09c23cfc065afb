package transport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// MaxResponseHeaderBytes bounds a response's status line and headers,
// together with those of the 1xx answers before it: net/http's default
// and rule, so a peer can flood the caller neither with header bytes nor
// with interim answers.
const MaxResponseHeaderBytes = 10 << 20

// Errors of requests the pool refuses before writing them.
var (
	ErrInvalidMethod = errors.New("transport: invalid method")
	ErrInvalidHeader = errors.New("transport: invalid header")
	// ErrResponseHeaderTooLarge: the peer sent more than MaxResponseHeaderBytes.
	ErrResponseHeaderTooLarge = errors.New("transport: response headers exceed 10 MiB")
)

// checkRequest refuses what net/http's Transport refuses to write: a
// method that is not a token, header names that are not tokens, header
// values with control characters, and a bad Host.
func checkRequest(req *http.Request) error {
	if req.Method != "" && !isToken(req.Method) {
		return fmt.Errorf("%w %q", ErrInvalidMethod, req.Method)
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("%w field name %q", ErrInvalidHeader, k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				// The value may be a secret: name the field only.
				return fmt.Errorf("%w value for %q", ErrInvalidHeader, k)
			}
		}
	}
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("%w: Host %q", ErrInvalidHeader, host)
	}
	if req.URL != nil && strings.ContainsAny(req.URL.Opaque+req.URL.RawPath, " \r\n") {
		return fmt.Errorf("%w: request target with white space", ErrInvalidHeader)
	}
	return nil
}

func isToken(s string) bool {
	for _, r := range s {
		if !httpguts.IsTokenRune(r) {
			return false
		}
	}
	return s != ""
}

// headerLimit is the reader under a pooled connection's bufio.Reader: it
// counts bytes while a response head is read, and is unlimited otherwise.
type headerLimit struct {
	r       io.Reader
	left    int64
	limited bool
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if !l.limited {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		return 0, ErrResponseHeaderTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// limit starts counting a response head (bytes already buffered do not
// count, which errs on the generous side).
func (l *headerLimit) limit() { l.limited, l.left = true, MaxResponseHeaderBytes }

// unlimit ends it, for the body.
func (l *headerLimit) unlimit() { l.limited = false }
