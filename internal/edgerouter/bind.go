package edgerouter

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// BindAddress chooses the address the router's listeners bind to when
// none is given: the advertised address itself when it is an IP address
// of this host, else the one address of this host that the advertised
// name resolves to. An IP address that is not this host's, or a name that
// resolves to none of this host's addresses (the node is behind NAT, say)
// or to several, is an error asking for the address, so that a router
// that could not listen is never enrolled.
func BindAddress(ctx context.Context, advertise string) (netip.Addr, error) {
	return bindAddress(ctx, advertise, localAddrs)
}

// bindAddress is BindAddress with this host's addresses from locals.
func bindAddress(ctx context.Context, advertise string, locals func() (map[netip.Addr]bool, error)) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(advertise); err == nil {
		local, err := locals()
		if err != nil {
			return netip.Addr{}, err
		}
		if !isLocal(ip, local) {
			return netip.Addr{}, fmt.Errorf("edgerouter: the advertised address %s is not an address of this host: give the address of this host to bind to (behind NAT, say), or advertise one of this host's addresses", advertise)
		}
		return ip, nil
	}
	resolved, err := net.DefaultResolver.LookupNetIP(ctx, "ip", advertise)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("edgerouter: resolving the advertised name %s to choose the address to bind to: %w (give the address)", advertise, err)
	}
	local, err := locals()
	if err != nil {
		return netip.Addr{}, err
	}
	return pickLocal(advertise, resolved, local)
}

// CheckLocal fails when bind, an address given to bind the router's
// listeners to, is not an address of this host: the router could not
// listen there, and enrolling it would spend its one-time token.
func CheckLocal(bind netip.Addr) error {
	local, err := localAddrs()
	if err != nil {
		return err
	}
	return checkLocal(bind, local)
}

func checkLocal(bind netip.Addr, local map[netip.Addr]bool) error {
	if !isLocal(bind, local) {
		return fmt.Errorf("edgerouter: the address to bind to %s is not an address of this host", bind)
	}
	return nil
}

// isLocal reports whether ip (its zone ignored) is in local.
func isLocal(ip netip.Addr, local map[netip.Addr]bool) bool {
	return local[ip.WithZone("").Unmap()]
}

// pickLocal returns the one address of resolved that is in local.
func pickLocal(advertise string, resolved []netip.Addr, local map[netip.Addr]bool) (netip.Addr, error) {
	var found []netip.Addr
	for _, a := range resolved {
		if isLocal(a, local) {
			found = append(found, a.Unmap())
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return netip.Addr{}, fmt.Errorf("edgerouter: %s resolves to %v, none of them an address of this host: give the address to bind to", advertise, resolved)
	}
	return netip.Addr{}, fmt.Errorf("edgerouter: %s resolves to several addresses of this host (%v): give the one to bind to", advertise, found)
}

// localAddrs returns the addresses of this host's interfaces.
func localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("edgerouter: listing this host's addresses: %w", err)
	}
	out := map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out, nil
}
