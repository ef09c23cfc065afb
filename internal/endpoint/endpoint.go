// Package endpoint checks the addresses ztedge is given, the same way
// everywhere: URLs of Vault, the Ziti controller and key sets (an allowed
// scheme, a host name or IP address, a port from 1 to 65535 when one is
// given, no user or password), and the hosts of peers and listeners. Its
// errors never repeat a password.
package endpoint

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Base checks that raw is a base URL, scheme://host[:port] with at most a
// trailing slash, with one of schemes, and returns it parsed.
func Base(raw string, schemes ...string) (*url.URL, error) {
	u, err := URL(raw, schemes...)
	if err != nil {
		return nil, err
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("%q must be %s://host:port only, without a path or query", shown(raw), u.Scheme)
	}
	return u, nil
}

// URL checks that raw is an absolute URL with one of schemes, a host and
// a valid port when it names one, and no user or password, and returns it
// parsed. A path and query are allowed.
func URL(raw string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL such as %s://host:port", shown(raw), schemes[0])
	}
	if u.User != nil || strings.Contains(u.Opaque, "@") {
		return nil, fmt.Errorf("%q must not hold a user or password", shown(raw))
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	if !ok {
		return nil, fmt.Errorf("%q: the scheme must be %s", shown(raw), strings.Join(schemes, " or "))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q names no host", shown(raw))
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Zone() != "" {
		return nil, fmt.Errorf("%q: an IPv6 address with a zone (%%%s) is not supported", shown(raw), ip.Zone())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %s is out of range (1 to 65535)", shown(raw), p)
		}
	}
	return u, nil
}

// shown is raw as an error may repeat it: whatever precedes its last "@"
// (a user and password, whatever characters the password holds) replaced
// by "xxxxx", and its query and fragment (which may hold a token) by "...".
func shown(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "xxxxx@" + rest[at+1:]
	}
	if q := strings.IndexAny(rest, "?#"); q >= 0 {
		rest = rest[:q] + "..."
	}
	if ok {
		return scheme + "://" + rest
	}
	return rest
}

// Controller turns a Ziti controller given as host:port or as a URL into
// its https base URL, https://host:port. A path, such as the
// /edge/client/v1 of an API URL, is dropped: the APIs live at fixed paths.
func Controller(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := URL(s, "https")
	if err != nil {
		return "", fmt.Errorf("%w (the controller speaks https)", err)
	}
	return u.Scheme + "://" + u.Host, nil
}

// hostRE is a DNS name: dot-separated labels of letters, digits, hyphens
// and underscores (found in container names), not starting or ending
// with a hyphen.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$`)

// Host checks that h is a host name or an IP address, with no scheme,
// port or path, and returns it with the brackets of an IPv6 address
// removed ("[::1]" becomes "::1").
func Host(h string) (string, error) {
	if inner, ok := strings.CutPrefix(h, "["); ok && strings.HasSuffix(inner, "]") {
		h = strings.TrimSuffix(inner, "]")
		if _, err := netip.ParseAddr(h); err != nil {
			return "", fmt.Errorf("%q is not an IPv6 address in brackets", "["+h+"]")
		}
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("%q: an IPv6 address with a zone (%%%s) is not supported", h, ip.Zone())
		}
		return h, nil
	}
	if len(h) > 253 || !hostRE.MatchString(h) {
		return "", fmt.Errorf("%q is not a host name or IP address (write it without a scheme, port or path)", h)
	}
	return h, nil
}
