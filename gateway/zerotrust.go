package gateway

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ztedge/ztedge/internal/naming"
)

// ZeroTrustPrefix starts a service upstream that is a Ziti service, reached
// over the overlay as the gateway's own Ziti identity ([Config.ZitiIdentity]):
// "zerotrust:core-data" is the Ziti service edgex.core-data (a full Ziti
// service name such as "zerotrust:edgex.core-data" works too).
const ZeroTrustPrefix = "zerotrust:"

// OverlayUpstream is a route whose upstream is a Ziti service.
type OverlayUpstream struct {
	// Route is the route's service name (its key in Config.Services).
	Route string
	// Service is the Ziti service as written after "zerotrust:": a ztedge
	// service name ("core-data", meaning edgex.core-data) or a full Ziti
	// service name.
	Service string
}

// zitiServiceRE is what a Ziti service name after "zerotrust:" may be:
// nothing that could change nginx.conf or a command line.
var zitiServiceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// OverlayUpstreams returns the routes whose upstream is "zerotrust:...",
// sorted by route.
func (c *Config) OverlayUpstreams() []OverlayUpstream {
	var out []OverlayUpstream
	for _, name := range c.serviceNames() {
		if svc, ok := strings.CutPrefix(c.Services[name], ZeroTrustPrefix); ok {
			out = append(out, OverlayUpstream{Route: name, Service: svc})
		}
	}
	return out
}

// validateZeroTrust checks the zerotrust upstreams, ZitiIdentity and
// OverlayAddrs.
func (c *Config) validateZeroTrust() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var routes []string
	for _, u := range c.OverlayUpstreams() {
		routes = append(routes, u.Route)
		if !zitiServiceRE.MatchString(u.Service) || u.Service == strings.TrimSuffix(naming.ServicePrefix, ".") {
			add("services.%s: %q names no Ziti service: write %s<service>, e.g. %score-data (the Ziti service edgex.core-data)", u.Route, c.Services[u.Route], ZeroTrustPrefix, ZeroTrustPrefix)
		}
	}
	switch {
	case len(routes) > 0 && c.ZitiIdentity == "":
		add("zitiIdentity is empty, but %s reached over the Ziti overlay (%s...): set it to the gateway's own enrolled identity file, e.g. <output>/clients/gateway.json for a client \"gateway\" of the topology",
			plural(routes, "is", "are"), ZeroTrustPrefix)
	case c.ZitiIdentity != "" && !filepath.IsAbs(c.ZitiIdentity):
		add("zitiIdentity %q must be an absolute path", c.ZitiIdentity)
	}
	for _, route := range sortedKeys(c.OverlayAddrs) {
		a := c.OverlayAddrs[route]
		if _, ok := strings.CutPrefix(c.Services[route], ZeroTrustPrefix); !ok {
			add("overlay address for %q: no such zerotrust service in services", route)
		} else if !a.IsValid() || !a.Addr().IsLoopback() || a.Port() == 0 {
			add("overlay address %s for %s: must be a loopback address with a port (the forwarder lends the gateway's identity to whoever connects)", a, route)
		}
	}
	return errs
}

// checkOverlayOpen fails when a zerotrust route has no forwarder address:
// nginx would have nowhere to send its requests.
func (c *Config) checkOverlayOpen() error {
	var missing []string
	for _, u := range c.OverlayUpstreams() {
		if _, ok := c.OverlayAddrs[u.Route]; !ok {
			missing = append(missing, u.Route)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s reached over the Ziti overlay, through the gateway's forwarder, which is not open: run the gateway with \"ztedge gateway run\" (or start it with the gateway/overlay package)",
		plural(missing, "is", "are"))
}

// upstreamName is the NGINX upstream block of a zerotrust route.
func upstreamName(route string) string { return "ztedge_overlay_" + route }

// overlayHost is the Host header sent to a Ziti service: its intercept
// name for a ztedge service, else the Ziti service name.
func overlayHost(service string) string {
	if name, ok := naming.ServiceOf(service); ok {
		return naming.InterceptHost(name)
	}
	if naming.ValidName(service) {
		return naming.InterceptHost(service)
	}
	return service
}

// overlayAddr is the forwarder address of a route as written into
// nginx.conf: 127.0.0.1:0 when it is not open yet (Render before Start).
func (c *Config) overlayAddr(route string) string {
	if a, ok := c.OverlayAddrs[route]; ok {
		return a.String()
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0).String()
}

// plural writes "services.a is" or "services.a and services.b are".
func plural(routes []string, one, many string) string {
	names := make([]string, len(routes))
	for i, r := range routes {
		names[i] = "services." + r
	}
	if len(names) == 1 {
		return names[0] + " " + one
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " " + many
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
