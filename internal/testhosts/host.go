//go:build linux

package testhosts

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one host of a Network: a network namespace with eth0 on the
// network's bridge and lo up.
type Host struct {
	// Name is the name given to New.
	Name string
	// IP is the host's address on eth0.
	IP netip.Addr
	// Dir is the host's folder under the test's temporary folder; logs of
	// started processes go there.
	Dir string
	// Home and Tmp are the HOME and TMPDIR of the host's processes, inside
	// Dir.
	Home, Tmp string

	net   *Network
	index int
	netns string

	fwMu   sync.Mutex
	blocks []block // firewall rules, see BlockFrom
}

// Addr returns "IP:port" of the host, for dialing it.
func (h *Host) Addr(port int) string {
	return netip.AddrPortFrom(h.IP, uint16(port)).String()
}

// Netns returns the name of the host's network namespace, for messages
// and for ip(8) by hand.
func (h *Host) Netns() string { return h.netns }

// Env returns the environment of the host's processes: the test process's
// environment with HOME and TMPDIR set to the host's, and without XDG_*,
// VAULT_* and ZITI_* variables, so that settings of the machine do not
// leak into a host.
func (h *Host) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "HOME" || name == "TMPDIR" || strings.HasPrefix(name, "XDG_") ||
			strings.HasPrefix(name, "VAULT_") || strings.HasPrefix(name, "ZITI_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+h.Home, "TMPDIR="+h.Tmp)
}

// Command returns a command that runs program name with args inside the
// host, through "ip netns exec", with Env() as its environment, Dir as
// its working directory and a process group of its own. When ctx ends the
// whole group is killed. Whatever it leaves running in the host is killed
// at cleanup.
//
// "ip netns exec" is used rather than setns(2) in the forking thread: the
// program is in the namespace from its first instruction, ip also gives it
// a /sys of the namespace, and ps shows plainly where it runs.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, ipBin, append([]string{"netns", "exec", h.netns, name}, args...)...)
	cmd.Env = h.Env()
	cmd.Dir = h.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a program inside the host until it exits and returns what it
// printed (standard output and error together). The error names the host
// and the command and ends with the output.
func (h *Host) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("on %s: %s %s: %w\n%s", h.Name, name, strings.Join(args, " "), err, tail(string(out), 20))
	}
	return string(out), nil
}

// Dial connects from inside the host, like net.Dialer.DialContext. The
// address must be an IP address and port (no names are resolved: a
// resolver would open its sockets outside the namespace).
func (h *Host) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkIPAddress(address); err != nil {
		return nil, err
	}
	var c net.Conn
	err := h.inNetns(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Listen listens inside the host, like net.Listen, on an IP address and
// port (":port" listens on all the host's addresses).
func (h *Host) Listen(network, address string) (net.Listener, error) {
	if err := checkIPAddress(address); err != nil {
		return nil, err
	}
	var l net.Listener
	err := h.inNetns(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// HTTPClient returns a client whose connections are made inside the host.
// URLs must name hosts by IP address.
func (h *Host) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: h.Dial}}
}

// checkIPAddress refuses addresses whose host part is a name.
func checkIPAddress(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("testhosts: address %q: %w", address, err)
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil {
		return fmt.Errorf("testhosts: address %q: the host must be an IP address", address)
	}
	return nil
}

// inNetns runs fn on an OS thread that has joined the host's namespace.
// A socket belongs to the namespace it was created in for its whole life,
// so sockets made by fn stay in the host afterwards. fn must create them
// in its own goroutine. The thread goes back to its namespace afterwards;
// if that fails, it stays locked, and the runtime discards it when the
// goroutine ends. (Any goroutine may run on the main thread, whose
// namespace is what /proc/<pid>/ns/net shows; the runtime never discards
// that thread, it only parks it.)
func (h *Host) inNetns(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testhosts: open this thread's namespace: %w", err)
			return
		}
		defer back.Close()
		target, err := os.Open(netnsDir + "/" + h.netns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testhosts: open namespace of %s: %w", h.Name, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testhosts: join namespace of %s: %w", h.Name, err)
			return
		}
		err = fn()
		if unix.Setns(int(back.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// LinkDown cuts the host's cable: its veth end on the bridge goes down,
// so eth0 inside loses carrier. Packets are dropped both ways; open TCP
// connections hang rather than reset, as with a real cut. LinkUp undoes it.
func (h *Host) LinkDown() error { return ip("link", "set", h.net.run.veth(h.index), "down") }

// LinkUp reconnects the host after LinkDown.
func (h *Host) LinkUp() error { return ip("link", "set", h.net.run.veth(h.index), "up") }

// maxLineLen bounds each line tail shows (ziti logs lines of JSON).
const maxLineLen = 400

// tail returns the last n lines of text, long lines cut.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"[" + strconv.Itoa(len(lines)-n) + " lines cut]"}, lines[len(lines)-n:]...)
	}
	for i, l := range lines {
		if len(l) > maxLineLen {
			lines[i] = l[:maxLineLen] + "…"
		}
	}
	return strings.Join(lines, "\n")
}
