package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/ztedge/ztedge/internal/naming"
)

// Forward is one local address forwarded to a Ziti service.
type Forward struct {
	// Name is the service as given: a ztedge service name ("core-data",
	// meaning the Ziti service "edgex.core-data") or a full Ziti service
	// name ("edgex.core-data", or any other service the identity may
	// dial).
	Name string
	// Listen is the local address to accept connections on. Port 0 picks
	// a free port.
	Listen netip.AddrPort
}

// ParseForward parses "SERVICE=[ADDRESS:]PORT", as given on the command
// line: "core-data=18080", "core-data=127.0.0.1:18080",
// "edgex.core-data=[::1]:18080". ADDRESS is an IP address or "localhost"
// and defaults to 127.0.0.1.
func ParseForward(arg string) (Forward, error) {
	name, addr, ok := strings.Cut(arg, "=")
	if !ok {
		return Forward{}, fmt.Errorf("tunnel: %q: want SERVICE=[ADDRESS:]PORT, as in core-data=127.0.0.1:18080", arg)
	}
	if err := checkServiceName(name); err != nil {
		return Forward{}, fmt.Errorf("tunnel: %q: %w", arg, err)
	}
	ap, err := ParseListenAddr(addr)
	if err != nil {
		return Forward{}, fmt.Errorf("tunnel: %q: %w", arg, err)
	}
	return Forward{Name: name, Listen: ap}, nil
}

// ParseListenAddr parses "[ADDRESS:]PORT": a port alone means
// 127.0.0.1:PORT; ADDRESS is an IP address (IPv6 in brackets) or
// "localhost" (127.0.0.1). No other name is resolved: where a tunnel
// listens must not depend on a resolver.
func ParseListenAddr(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("no port given: want [ADDRESS:]PORT")
	}
	host, portStr := "", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portStr = s[:i], s[i+1:]
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		} else if strings.Contains(host, ":") {
			return netip.AddrPort{}, fmt.Errorf("address %q: put an IPv6 address in brackets, as in [::1]:18080", s)
		}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port %q is not a number from 0 to 65535", s, portStr)
	}
	var ip netip.Addr
	switch host {
	case "", "localhost":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %q is not an IP address (only localhost is accepted as a name)", s, host)
		}
		if ip.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("address %q: zones are not supported", s)
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// checkServiceName refuses names that cannot be Ziti service names given
// on a command line: empty, too long, or with quotes, backslashes or
// control characters.
func checkServiceName(name string) error {
	switch {
	case name == "":
		return errors.New("no service name before '='")
	case len(name) > 255:
		return errors.New("service name longer than 255 bytes")
	case strings.ContainsAny(name, `"\`):
		return fmt.Errorf("service name %q has a quote or backslash", name)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return fmt.Errorf("service name %q has spaces or control characters", name)
	case name == naming.ServicePrefix:
		return fmt.Errorf("service name %q names no service", name)
	}
	return nil
}

// candidates returns the Ziti services a forward's name may mean, the
// preferred first: "core-data" is "edgex.core-data", or else a Ziti
// service named "core-data"; "edgex.core-data" is itself.
func candidates(name string) []string {
	if strings.HasPrefix(name, naming.ServicePrefix) {
		return []string{name}
	}
	return []string{naming.ZitiService(name), name}
}

// exposed reports whether other hosts may reach a listening address:
// anything but a loopback address.
func exposed(a netip.Addr) bool { return !a.IsLoopback() }
