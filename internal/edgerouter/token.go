package edgerouter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/secretfile"
)

// Token is what ztedge reads from a router's one-time enrolment token.
// The claims are read without checking the signature: they only choose
// defaults and give early, clear errors. "ziti router enroll" checks the
// token against the controller.
type Token struct {
	// Raw is the token as read from its file.
	Raw string
	// Method is the enrolment method; "erott" for a router.
	Method string
	// Issuer is the controller's API URL.
	Issuer string
	// Controllers are the control-plane endpoints, e.g. "tls:ctrl:1280".
	Controllers []string
	// Expires is when the token stops being accepted.
	Expires time.Time
}

// routerMethod is the enrolment method of an edge router's token.
const routerMethod = "erott"

// maxTokenSize bounds how much of a token file is read.
const maxTokenSize = 16 << 10

// ReadToken reads a router's enrolment token file. The file must be
// private to its owner (mode 0600): the token lets anyone enroll the
// router once.
func ReadToken(path string) (*Token, error) {
	b, err := secretfile.Read(path, "edgerouter: enrolment token", maxTokenSize)
	if err != nil {
		return nil, err
	}
	t, err := ParseToken(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("edgerouter: enrolment token %s: %w", path, err)
	}
	return t, nil
}

// ParseToken reads the claims of an enrolment token and checks that it is
// a router's.
func ParseToken(raw string) (*Token, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT (want three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("not a JWT: %w", err)
	}
	var claims struct {
		Method      string   `json:"em"`
		Issuer      string   `json:"iss"`
		Controllers []string `json:"ctrls"`
		Expires     int64    `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("not a JWT: %w", err)
	}
	if claims.Method != routerMethod {
		return nil, fmt.Errorf("enrolment method %q is not a router's (%q): is this an identity's token?", claims.Method, routerMethod)
	}
	t := &Token{Raw: raw, Method: claims.Method, Issuer: claims.Issuer, Controllers: claims.Controllers}
	if claims.Expires > 0 {
		t.Expires = time.Unix(claims.Expires, 0)
	}
	return t, nil
}

// Controller returns the control-plane address (host:port) the token
// names: its first controller endpoint, else its issuer's host and port.
func (t *Token) Controller() (string, error) {
	for _, c := range t.Controllers {
		addr := strings.TrimPrefix(c, "tls:")
		if validHostPort(addr) {
			return addr, nil
		}
	}
	u, err := url.Parse(t.Issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the token names no controller (issuer %q)", t.Issuer)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443"), nil
	}
	return u.Host, nil
}
