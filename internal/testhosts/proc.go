//go:build linux

package testhosts

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a process gets between SIGTERM and SIGKILL.
	stopGrace = 5 * time.Second
	// dumpLines is how much of each log a failed test shows.
	dumpLines = 40
)

// Process is a long-running program started on a host with Start.
type Process struct {
	// Label names the process in messages and its log file.
	Label string
	// Log is the file its standard output and error go to.
	Log string
	// Cmd is the started command.
	Cmd *exec.Cmd

	host     *Host
	done     chan struct{}
	err      error
	stopOnce sync.Once
}

// Start starts cmd, which must come from h.Command, as a long-running
// process of the host: its standard output and error are appended to
// <h.Dir>/<label>.log, it gets SIGKILL if the test process dies, and it
// is stopped at cleanup (its whole process group) if it still runs. When
// the test fails, the end of its log is shown. Make cmd with a context
// that outlives the test's body (context.Background()): t.Context() ends
// before the cleanups run, and would kill it with SIGKILL, not SIGTERM.
func (h *Host) Start(label string, cmd *exec.Cmd) (*Process, error) {
	if len(cmd.Args) < 4 || !slices.Equal(cmd.Args[1:4], []string{"netns", "exec", h.netns}) {
		return nil, fmt.Errorf("testhosts: Start on %s: the command must come from %s.Command", h.Name, h.Name)
	}
	logPath := filepath.Join(h.Dir, label+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testhosts: open log of %s: %w", label, err)
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== %s: started on %s at %s: %v\n", label, h.Name, time.Now().Format(time.RFC3339Nano), cmd.Args[4:])
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Process{Label: label, Log: logPath, Cmd: cmd, host: h, done: make(chan struct{})}
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("testhosts: start %s on %s: %w", label, h.Name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.net.mu.Lock()
	h.net.procs = append(h.net.procs, p)
	h.net.mu.Unlock()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process exited: nil while it runs or if it exited
// with status 0.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after a few seconds,
// and waits for the process to exit. Then it kills what is left of the
// group. It is safe to call more than once.
func (p *Process) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		pgid := p.Cmd.Process.Pid
		if p.Running() {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
			}
		}
		if e := syscall.Kill(-pgid, syscall.SIGKILL); e != nil && !errors.Is(e, syscall.ESRCH) {
			err = fmt.Errorf("testhosts: kill %s: %w", p.Label, e)
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			err = fmt.Errorf("testhosts: %s (pid %d) does not exit after SIGKILL", p.Label, pgid)
		}
	})
	return err
}

// LogTail returns the last n lines of the process's log, for messages.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return fmt.Sprintf("cannot read log: %v", err)
	}
	return fmt.Sprintf("last lines of %s:\n%s", p.Log, tail(string(data), n))
}

// spawner runs cmd.Start on one OS thread that stays locked for the life
// of the test process. The kernel sends Pdeathsig when the thread that
// forked a child exits, not the process; the Go runtime ends threads
// (those of goroutines that exit locked, as Host.Dial's do), so forking
// from an ordinary goroutine could kill a child early.
var spawner = sync.OnceValue(func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range ch {
			f()
		}
	}()
	return ch
})

// spawn starts cmd from the spawner thread.
func spawn(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawner() <- func() { errc <- cmd.Start() }
	return <-errc
}
