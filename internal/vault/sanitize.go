package vault

import (
	"errors"
	"fmt"
	"net"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// Error is a Vault error answer reduced to what is safe to show: the HTTP
// status, the method and path, and the messages of Vault's JSON error list
// cut to a short length. A body in any other format is never kept.
type Error struct {
	StatusCode int
	Method     string
	Path       string
	Messages   []string
}

// maxMessage bounds each message Vault sent that an error repeats.
const maxMessage = 200

func (e *Error) Error() string {
	msg := fmt.Sprintf("vault answered %d to %s %s", e.StatusCode, e.Method, e.Path)
	if len(e.Messages) > 0 {
		msg += ": " + strings.Join(e.Messages, "; ")
	}
	return msg
}

// Sanitize turns a *vaultapi.ResponseError into an [*Error] (which keeps
// errors.As working on the status), and returns other errors unchanged.
// vaultapi's own error text includes Vault's raw body, which may echo what
// was sent.
func Sanitize(err error) error {
	var re *vaultapi.ResponseError
	if err == nil || !errors.As(err, &re) {
		return err
	}
	e := &Error{StatusCode: re.StatusCode, Method: re.HTTPMethod, Path: re.URL}
	if i := strings.Index(e.Path, "?"); i >= 0 {
		e.Path = e.Path[:i]
	}
	if re.RawError {
		// Not Vault's JSON error list: whatever answered (a proxy, a load
		// balancer) may echo the request. Say what it was, not what it said.
		e.Messages = []string{"the answer is not Vault's JSON error format"}
		return e
	}
	for _, m := range re.Errors {
		if len(m) > maxMessage {
			m = m[:maxMessage] + "…"
		}
		e.Messages = append(e.Messages, m)
	}
	return e
}

// StatusOf returns the HTTP status of a Vault error answer, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func net4or6(h string) net.IP { return net.ParseIP(strings.Trim(h, "[]")) }
