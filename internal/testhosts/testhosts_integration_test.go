//go:build linux

package testhosts_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/stacktest"
	"github.com/ztedge/ztedge/internal/testhosts"
)

// The test binary doubles as a helper program run inside hosts:
// TESTHOSTS_HELPER=echo ADDR serves a line echo on ADDR.
func TestMain(m *testing.M) {
	if os.Getenv("TESTHOSTS_HELPER") == "echo" {
		os.Exit(echoServer(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func echoServer(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("listening on", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// echo sends a line over c and checks it comes back.
func echo(t *testing.T, c net.Conn, line string) {
	t.Helper()
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := fmt.Fprintln(c, line)
	require.NoError(t, err)
	got, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, line+"\n", got)
}

// serveEcho echoes lines on l until it is closed.
func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// dialFails checks that from cannot connect to addr within a second.
func dialFails(t *testing.T, from *testhosts.Host, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	c, err := from.Dial(ctx, "tcp", addr)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "%s reached %s", from.Name, addr)
}

// dialWorks checks that from connects to addr and gets an echo, retrying
// for a few seconds (a link that just came up may need a moment).
func dialWorks(t *testing.T, from *testhosts.Host, addr string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		c, err := from.Dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			echo(t, c, "hello from "+from.Name)
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, last, "%s cannot reach %s", from.Name, addr)
}

func TestIntegrationHostsReachEachOther(t *testing.T) {
	stacktest.Integration(t)
	n := testhosts.New(t, "a", "b")
	a, b := n.Host("a"), n.Host("b")
	require.True(t, n.Subnet.Contains(a.IP) && n.Subnet.Contains(b.IP))

	t.Run("each host dials the other over TCP", func(t *testing.T) {
		for _, pair := range [][2]*testhosts.Host{{a, b}, {b, a}} {
			from, to := pair[0], pair[1]
			l, err := to.Listen("tcp", to.Addr(7000))
			require.NoError(t, err)
			go serveEcho(l)
			dialWorks(t, from, to.Addr(7000))
			l.Close()
		}
	})

	t.Run("each host has its own loopback", func(t *testing.T) {
		l, err := a.Listen("tcp", "127.0.0.1:7001")
		require.NoError(t, err)
		defer l.Close()
		go serveEcho(l)
		dialWorks(t, a, "127.0.0.1:7001")
		dialFails(t, b, "127.0.0.1:7001")
	})

	t.Run("programs run inside the host with its HOME and TMPDIR", func(t *testing.T) {
		out, err := a.Run(t.Context(), "sh", "-c", `echo "$HOME $TMPDIR"; ip -4 -o addr show dev eth0`)
		require.NoError(t, err)
		assert.Contains(t, out, a.Home+" "+a.Tmp+"\n")
		assert.Contains(t, out, "inet "+a.IP.String()+"/24")
	})

	t.Run("a program started on one host serves another", func(t *testing.T) {
		self, err := os.Executable()
		require.NoError(t, err)
		cmd := b.Command(context.Background(), self, b.Addr(7002))
		cmd.Env = append(cmd.Env, "TESTHOSTS_HELPER=echo")
		p, err := b.Start("echo", cmd)
		require.NoError(t, err)
		dialWorks(t, a, b.Addr(7002))
		require.NoError(t, p.Stop())
		assert.False(t, p.Running())
		log, err := os.ReadFile(p.Log)
		require.NoError(t, err)
		assert.Contains(t, string(log), "listening on "+b.Addr(7002))
	})
}

func TestIntegrationLinkDownCutsAHostOff(t *testing.T) {
	stacktest.Integration(t)
	n := testhosts.New(t, "a", "b", "c")
	a, b, c := n.Host("a"), n.Host("b"), n.Host("c")
	l, err := b.Listen("tcp", b.Addr(7000))
	require.NoError(t, err)
	defer l.Close()
	go serveEcho(l)
	dialWorks(t, a, b.Addr(7000))

	require.NoError(t, a.LinkDown())
	dialFails(t, a, b.Addr(7000))
	dialWorks(t, c, b.Addr(7000)) // the others still talk

	require.NoError(t, a.LinkUp())
	dialWorks(t, a, b.Addr(7000))
}

func TestIntegrationBlockFromDropsOnePeerOnOnePort(t *testing.T) {
	stacktest.Integration(t)
	n := testhosts.New(t, "a", "b", "c")
	a, b, c := n.Host("a"), n.Host("b"), n.Host("c")
	for _, port := range []int{7000, 7001} {
		l, err := b.Listen("tcp", b.Addr(port))
		require.NoError(t, err)
		defer l.Close()
		go serveEcho(l)
	}

	require.NoError(t, b.BlockFrom(a, 7000))
	dialFails(t, a, b.Addr(7000))
	dialWorks(t, a, b.Addr(7001))
	dialWorks(t, c, b.Addr(7000))

	require.NoError(t, b.BlockFrom(c, 0))
	dialFails(t, c, b.Addr(7001))

	require.NoError(t, b.UnblockFrom(a, 7000))
	require.NoError(t, b.UnblockFrom(c, 0))
	dialWorks(t, a, b.Addr(7000))
	dialWorks(t, c, b.Addr(7001))
}

// remains reports the namespaces and links whose names start with prefix.
func remains(t *testing.T, prefix string) []string {
	t.Helper()
	var left []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).Output()
		require.NoError(t, err)
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, prefix) {
				left = append(left, strings.TrimSpace(line))
			}
		}
	}
	return left
}

// gone checks, for a few seconds, that process pid has exited (a zombie
// counts as exited).
// inNamespace waits until a process started with "ip netns exec" has
// entered its namespace: ip execs the program only after joining it. Until
// then no sweep of the namespace can see the process.
func inNamespace(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) != "ip" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.FailNow(t, "the process did not enter its namespace", "pid %d", pid)
}

func gone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(data), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Fail(t, "process still runs", "pid %d", pid)
}

func TestIntegrationCleanupRemovesEverything(t *testing.T) {
	stacktest.Integration(t)
	var name string
	var started *testhosts.Process
	var stray *exec.Cmd
	t.Run("a network with processes", func(t *testing.T) {
		n := testhosts.New(t, "a", "b")
		name = n.Name()
		var err error
		started, err = n.Host("a").Start("sleep", n.Host("a").Command(context.Background(), "sleep", "600"))
		require.NoError(t, err)
		// Started by hand and never waited for: only the sweep of the
		// namespace finds it.
		stray = n.Host("b").Command(context.Background(), "sleep", "601")
		require.NoError(t, stray.Start())
		inNamespace(t, stray.Process.Pid)
		assert.NotEmpty(t, remains(t, name))
	})
	assert.Empty(t, remains(t, name), "after cleanup")
	assert.False(t, started.Running(), "the started process")
	err := stray.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the stray process")
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}

// childReport is what TestIntegrationChildHelper tells its parent.
type childReport struct {
	Name     string // the network's name prefix
	Started  int    // pid of a process started with Start
	Stray    int    // pid of a process started by hand
	Netns    string // a namespace of the network
	ChildPID int
}

// TestIntegrationChildHelper is not a test of its own: run as a child
// process by TestIntegrationCleanupAfterFailure, it builds a network, then
// fails, panics or exits as TESTHOSTS_CHILD says. Otherwise it does
// nothing.
func TestIntegrationChildHelper(t *testing.T) {
	mode := os.Getenv("TESTHOSTS_CHILD")
	if mode == "" {
		return
	}
	n := testhosts.New(t, "a")
	a := n.Host("a")
	p, err := a.Start("sleep", a.Command(context.Background(), "sleep", "600"))
	require.NoError(t, err)
	stray := a.Command(context.Background(), "sleep", "601")
	require.NoError(t, stray.Start())
	inNamespace(t, stray.Process.Pid)
	data, _ := json.Marshal(childReport{n.Name(), p.Cmd.Process.Pid, stray.Process.Pid, a.Netns(), os.Getpid()})
	require.NoError(t, os.WriteFile(os.Getenv("TESTHOSTS_REPORT"), data, 0o600))
	switch mode {
	case "fatal":
		require.FailNow(t, "failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "exit":
		os.Exit(3) // no cleanups at all, as on a test timeout
	}
}

func TestIntegrationCleanupAfterFailure(t *testing.T) {
	stacktest.Integration(t)
	self, err := os.Executable()
	require.NoError(t, err)
	for _, mode := range []string{"fatal", "panic", "exit"} {
		t.Run(mode, func(t *testing.T) {
			report := t.TempDir() + "/report.json"
			cmd := exec.Command(self, "-test.run=^TestIntegrationChildHelper$", "-test.count=1", "-test.v")
			// The child's temporary files live in ours: a child that exits
			// without its cleanups must not leave them in /tmp.
			cmd.Env = append(os.Environ(), "TESTHOSTS_CHILD="+mode, "TESTHOSTS_REPORT="+report, "TMPDIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the child should fail:\n%s", out)
			data, err := os.ReadFile(report)
			require.NoError(t, err, "child output:\n%s", out)
			var r childReport
			require.NoError(t, json.Unmarshal(data, &r))
			gone(t, r.Started)
			if mode == "exit" {
				// Nothing ran the cleanups: the namespace (with the stray
				// process) is still there, until the next New sweeps it.
				assert.NotEmpty(t, remains(t, r.Name))
				testhosts.New(t, "sweeper")
			} else {
				assert.Contains(t, string(out), "testhosts: sleep on a exited", "logs are dumped on failure")
			}
			gone(t, r.Stray)
			assert.Empty(t, remains(t, r.Name), "child output:\n%s", out)
		})
	}
}
