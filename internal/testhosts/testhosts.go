//go:build linux

package testhosts

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Network is a set of hosts on one bridge, made by New.
type Network struct {
	// Subnet is the /24 the hosts' addresses are in.
	Subnet netip.Prefix
	// Hosts are the hosts, in the order given to New.
	Hosts []*Host

	t      testing.TB
	run    run
	unlock func()

	mu    sync.Mutex
	procs []*Process
}

// New builds a network with one host per name and registers its removal
// with t.Cleanup. Names are lower-case letters, digits and '-'; hosts get
// .1, .2, ... in the order given. Each host has a folder of its own under
// t.TempDir(), with its HOME, TMPDIR and the logs of what it Starts.
//
// New fails t (never skips it) if it cannot build the network, for
// example when not run as root.
func New(t testing.TB, names ...string) *Network {
	t.Helper()
	if err := checkHostNames(names); err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	if err := preflight(); err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	// Made before the cleanup below is registered, so that it is removed
	// after it: the logs are still there to dump.
	dir := t.TempDir()
	r, unlock, err := claim()
	if err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	n := &Network{Subnet: r.subnet(), t: t, run: r, unlock: unlock}
	// Registered before anything is built, so that a half-built network
	// is removed too.
	t.Cleanup(n.teardown)
	for i, name := range names {
		h := &Host{
			Name:  name,
			IP:    r.hostIP(i),
			Dir:   filepath.Join(dir, name),
			net:   n,
			index: i,
			netns: r.netns(name),
		}
		h.Home = filepath.Join(h.Dir, "home")
		h.Tmp = filepath.Join(h.Dir, "tmp")
		for _, d := range []string{h.Home, h.Tmp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatalf("testhosts: %v", err)
			}
		}
		n.Hosts = append(n.Hosts, h)
	}
	if err := n.build(); err != nil {
		t.Fatalf("testhosts: build network %s: %v", n.Subnet, err)
	}
	return n
}

// preflight checks what New needs, so that a missing piece fails with a
// message that says what to do.
func preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("network namespaces need root, and this test runs as uid %d: "+
			"run the integration tests as root (or with -short, which skips them)", os.Geteuid())
	}
	if _, err := os.Stat(ipBin); err != nil {
		return fmt.Errorf("iproute2's ip is missing (%v): apt-get install iproute2", err)
	}
	return nil
}

// build creates the bridge, then for each host its namespace, its veth
// pair (eth0 inside) and its address, with lo up.
func (n *Network) build() error {
	br := n.run.bridge()
	if err := ip("link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	if err := ip("link", "set", br, "up"); err != nil {
		return err
	}
	for _, h := range n.Hosts {
		veth := n.run.veth(h.index)
		for _, args := range [][]string{
			{"netns", "add", h.netns},
			{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns},
			{"link", "set", veth, "master", br, "up"},
			{"-n", h.netns, "addr", "add", netip.PrefixFrom(h.IP, n.Subnet.Bits()).String(), "dev", "eth0"},
			{"-n", h.netns, "link", "set", "eth0", "up"},
			{"-n", h.netns, "link", "set", "lo", "up"},
		} {
			if err := ip(args...); err != nil {
				return fmt.Errorf("host %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// Name is the prefix of every namespace and link of the network, such as
// "zth1a7" (the bridge's name).
func (n *Network) Name() string { return n.run.prefix() }

// Host returns the host named name; it fails the test if there is none.
func (n *Network) Host(name string) *Host {
	n.t.Helper()
	for _, h := range n.Hosts {
		if h.Name == name {
			return h
		}
	}
	n.t.Fatalf("testhosts: no host %q in this network", name)
	return nil
}

// teardown stops every process, removes the run's links and namespaces,
// dumps the logs if the test failed, and reports anything left behind.
func (n *Network) teardown() {
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { _ = p.Stop() })
	}
	wg.Wait()
	if err := remove(n.run); err != nil {
		n.t.Errorf("testhosts: remove network %s: %v", n.Subnet, err)
	}
	if left, err := leftovers(n.run.prefix()); err != nil || len(left) > 0 {
		n.t.Errorf("testhosts: left behind after cleanup: %s (%v)", strings.Join(left, ", "), err)
	}
	n.unlock()
	if n.t.Failed() || panicking() {
		for _, p := range procs {
			n.t.Logf("testhosts: %s on %s exited (%v); %s", p.Label, p.host.Name, p.Err(), p.LogTail(dumpLines))
		}
	}
}

// panicking reports whether the calling goroutine is panicking. Cleanups
// run while a test panics see t.Failed() == false (the testing package
// runs them before it marks the failure), but the panic is on the stack.
func panicking() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			return true
		}
		if !more {
			return false
		}
	}
}
