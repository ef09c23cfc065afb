package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a background process started by this package.
type process struct {
	name   string // "vault" or "ziti"
	pid    int
	log    string
	exited chan struct{} // closed when the process has exited (and been reaped)
	err    error         // exit error, valid after exited is closed
}

// startDetached starts bin with args as a detached background process: in a
// new session (so its own process group, and no controlling terminal), with
// stdin from /dev/null and stdout and stderr appended to logPath (0600). The
// process survives the exit of this program.
func startDetached(name, bin string, args, env []string, dir, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, pid: cmd.Process.Pid, log: logPath, exited: make(chan struct{})}
	// Reap the child if it exits while we still run, so that it does not
	// linger as a zombie that looks alive.
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// hasExited reports whether the process has exited, without blocking.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// procCmdline returns the argv of pid from /proc.
func procCmdline(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return nil, errors.New("empty command line (zombie or kernel thread)")
	}
	return strings.Split(string(data), "\x00"), nil
}

// procState returns the one-letter state of pid from /proc/<pid>/stat
// (R, S, D, Z, ...).
func procState(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	// The command name is in parentheses and may contain spaces; the state
	// follows the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return "", fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	return string(data[i+2 : i+3]), nil
}

// processMatches reports whether pid is a live (non-zombie) process whose
// command line is bin followed by arguments that include marker. This guards
// against signalling an unrelated process that reused a recorded pid.
func processMatches(pid int, bin, marker string) bool {
	if pid <= 0 {
		return false
	}
	if st, err := procState(pid); err != nil || st == "Z" || st == "X" {
		return false
	}
	argv, err := procCmdline(pid)
	// Right after exec the command line can read as empty for a moment.
	for try := 0; err != nil && try < 20; try++ {
		if _, statErr := procState(pid); statErr != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
		argv, err = procCmdline(pid)
	}
	if err != nil || len(argv) == 0 || argv[0] != bin {
		return false
	}
	return marker == "" || slices.Contains(argv[1:], marker)
}

// stopProcess stops the process group led by pid if pid still runs bin with
// marker: SIGTERM, up to grace to exit, then SIGKILL. It returns whether a
// matching process was found.
func stopProcess(ctx context.Context, pid int, bin, marker string, grace time.Duration) (bool, error) {
	if !processMatches(pid, bin, marker) {
		return false, nil
	}
	// We start each process in its own session, so it leads its own process
	// group; signal the group to also stop any children. Fall back to the
	// pid alone if that is not (or no longer) the case.
	target := pid
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		target = -pid
	}
	if err := syscall.Kill(target, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("send SIGTERM to %d: %w", pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !processMatches(pid, bin, marker) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("send SIGKILL to %d: %w", pid, err)
	}
	for range 50 {
		if !processMatches(pid, bin, marker) {
			return true, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true, fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

// logTail returns the last n lines of the log at path, with the given
// secrets and well-known secret lines redacted, indented for an error.
func logTail(path string, n int, secrets ...string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("\n  (cannot read log %s: %v)", path, err)
	}
	text := strings.TrimRight(string(data), "\n")
	if text == "" {
		return fmt.Sprintf("\n  (log %s is empty)", path)
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = redact(l, secrets...)
	}
	return fmt.Sprintf("\n  last %d lines of %s:\n    %s", len(lines), path, strings.Join(lines, "\n    "))
}

// redact removes secrets from a log line: the given values, and the values
// of "Token:" lines (Vault's root token, the quickstart's session token)
// and Vault's "Unseal Key:" lines.
func redact(line string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			line = strings.ReplaceAll(line, s, "[redacted]")
		}
	}
	for _, label := range []string{"Token:", "Unseal Key:", "Recovery Key:"} {
		if i := strings.Index(line, label); i >= 0 {
			line = line[:i+len(label)] + " [redacted]"
		}
	}
	return line
}
