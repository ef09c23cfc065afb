package tunnel

import (
	"errors"
	"fmt"
	"net/http"
)

// Reasons of refused dials, shown to users.
const (
	reasonUnlisted = "the controller lists no such service for it (no Dial policy allows it, or the service does not exist)"
	reasonBindOnly = "its policies let it host (bind) the service, not dial it"
	reasonNoServer = "nothing hosts the service right now (is it running?)"
)

// ErrRefused is matched (errors.Is) by a [*DialError] for a service the
// identity may not dial.
var ErrRefused = errors.New("tunnel: refused by policy")

// DialError is a connection the tunnel could not make to a Ziti service.
type DialError struct {
	// Service is the Ziti service.
	Service string
	// Identity is the tunnel's identity.
	Identity string
	// Refused is true when the identity may not dial the service at all:
	// no Dial policy allows it, or the service does not exist.
	Refused bool
	// Reason says why, in words for the user.
	Reason string
	// Err is the SDK's error, if there was one.
	Err error
}

func (e *DialError) Error() string {
	if e.Refused {
		return fmt.Sprintf("identity %q may not dial the ziti service %q: %s", e.Identity, e.Service, e.Reason)
	}
	if e.Err != nil && e.Reason != reasonNoServer { // the SDK's words add nothing to that one
		return fmt.Sprintf("ziti service %q: %s: %v", e.Service, e.Reason, e.Err)
	}
	return fmt.Sprintf("ziti service %q: %s", e.Service, e.Reason)
}

// Unwrap returns the SDK's error.
func (e *DialError) Unwrap() error { return e.Err }

// Is matches [ErrRefused] for refused dials.
func (e *DialError) Is(target error) bool { return target == ErrRefused && e.Refused }

// status is the HTTP status that answers a failed dial: 403 for a
// refusal, 502 for anything else.
func status(err error) int {
	if errors.Is(err, ErrRefused) {
		return http.StatusForbidden
	}
	return http.StatusBadGateway
}
