package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/internal/errprefix"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// ErrNginxNotInstalled is returned when no nginx binary can be found.
var ErrNginxNotInstalled = errors.New("nginx is not installed (apt-get install nginx)")

// Timeouts of [Start] and [Process.Stop].
const (
	// StartTimeout bounds how long Start waits for the port to answer.
	StartTimeout = 20 * time.Second
	// StopTimeout bounds a graceful stop before nginx is killed.
	StopTimeout = 10 * time.Second
)

// FindNginx returns the nginx binary: path when not empty (it must exist),
// else nginx from PATH, else /usr/sbin/nginx. It returns
// [ErrNginxNotInstalled] when there is none.
func FindNginx(path string) (_ string, err error) {
	defer prefixErr(&err)
	if path != "" {
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			return "", fmt.Errorf("nginx binary %s: not found: %w", path, ErrNginxNotInstalled)
		}
		return path, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNginxNotInstalled
}

// Process is an nginx master process started by [Start].
type Process struct {
	// Config is the configuration it runs, with defaults applied.
	Config Config
	// Addr is the address the gateway listens on (cfg.Listen).
	Addr string
	// Binary is the nginx binary that runs.
	Binary string
	// PID is the nginx master's process id (and process group id).
	PID int

	cmd    *exec.Cmd
	done   chan struct{}
	err    error // set before done is closed
	stderr string
	logger *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

// Prepare applies defaults, validates cfg, checks that every zerotrust
// service has its forwarder address (cfg.OverlayAddrs), creates StateDir
// and its logs, temp and tls folders, generates the self-signed
// certificate when cfg has none, and writes nginx.conf (mode 0600). It
// returns the defaulted configuration. [Start] calls it; it is exported for "render to disk".
func Prepare(cfg Config) (_ *Config, err error) {
	defer prefixErr(&err)
	c := cfg
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkOverlayOpen(); err != nil {
		return nil, err
	}
	if err := ensureStateDirs(&c); err != nil {
		return nil, err
	}
	if c.GeneratedCertificate() {
		if _, err := EnsureCertificate(c.CertFile, c.KeyFile, certificateHosts(c.Listen)); err != nil {
			return nil, err
		}
	} else if err := CheckCertificate(c.CertFile, c.KeyFile); err != nil {
		return nil, err
	}
	if err := checkKeyFile(c.KeyFile); err != nil {
		return nil, err
	}
	if err := secretfile.Write(c.ConfigFile(), render(&c)); err != nil {
		return nil, err
	}
	return &c, nil
}

// certificateHosts returns the names a generated certificate covers: the
// defaults plus the listen host when it is a specific address.
func certificateHosts(listen string) []string {
	hosts := append([]string(nil), DefaultCertificateHosts...)
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return hosts
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return hosts
	}
	for _, h := range hosts {
		if h == host {
			return hosts
		}
	}
	return append(hosts, host)
}

// nginxArgs are the arguments that point nginx at the private prefix,
// with errorLog as the log for messages before the configuration's
// error_log takes over ("stderr" for standard error).
func nginxArgs(c *Config, errorLog string, extra ...string) []string {
	return append([]string{"-p", c.StateDir + "/", "-c", c.ConfigFile(), "-e", errorLog}, extra...)
}

// Test runs "nginx -t" on the configuration that [Prepare] wrote and
// returns nginx's output in the error when it fails.
func Test(ctx context.Context, binary string, c *Config) (err error) {
	defer prefixErr(&err)
	cmd := exec.CommandContext(ctx, binary, nginxArgs(c, "stderr", "-t", "-q")...)
	cmd.Dir = c.StateDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = "(no output; see " + c.ErrorLog() + ")"
		}
		return fmt.Errorf("nginx -t rejected %s: %v:\n%s", c.ConfigFile(), err, msg)
	}
	return nil
}

// Start prepares the state folder (see [Prepare]), checks the
// configuration with "nginx -t", starts nginx in the foreground as a child
// process in its own process group, and waits until cfg.Listen accepts
// connections. ctx bounds only the start; the gateway runs until
// [Process.Stop] (or until nginx exits, see [Process.Done]). logger may be
// nil.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Process, err error) {
	defer prefixErr(&err)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := Prepare(cfg)
	if err != nil {
		return nil, err
	}
	bin, err := FindNginx(c.Nginx)
	if err != nil {
		return nil, err
	}
	if err := Test(ctx, bin, c); err != nil {
		return nil, err
	}
	if err := portFree(c.Listen); err != nil {
		return nil, err
	}

	stderrPath := filepath.Join(c.StateDir, logsDirName, stderrName)
	stderr, err := openLog(stderrPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd := exec.Command(bin, nginxArgs(c, c.ErrorLog(), "-g", "daemon off;")...)
	cmd.Dir = c.StateDir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	// Its own process group, so Stop can reach the workers; and stopped
	// (gracefully) if this process dies without calling Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{Config: *c, Addr: c.Listen, Binary: bin, PID: cmd.Process.Pid,
		cmd: cmd, done: make(chan struct{}), stderr: stderrPath, logger: logger}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	logger.Info("nginx started", "pid", p.PID, "listen", c.Listen, "config", c.ConfigFile())

	wctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := p.waitReady(wctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// portFree fails when something already listens on addr, which nginx
// would otherwise only report after retrying for seconds.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen address %s is not free: %w", addr, err)
	}
	return l.Close()
}

// dialAddr returns an address to probe for listen: the loopback address
// when listen is a wildcard.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}

// waitReady waits until the listen port accepts connections, nginx exits,
// or ctx ends.
func (p *Process) waitReady(ctx context.Context) error {
	addr := dialAddr(p.Addr)
	for {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			select {
			case <-p.done:
				return p.exitError("nginx exited right after starting")
			default:
			}
			return nil
		}
		select {
		case <-p.done:
			return p.exitError("nginx exited before its port answered")
		case <-ctx.Done():
			return fmt.Errorf("nginx did not answer on %s in time (see %s and %s): %w", addr, p.stderr, p.Config.ErrorLog(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exitError describes nginx's exit with the end of its output.
func (p *Process) exitError(what string) error {
	return fmt.Errorf("%s (%v); its output:\n%s", what, p.err, tail(p.stderr, p.Config.ErrorLog()))
}

// tail returns the last lines of the given files, for error messages.
func tail(paths ...string) string {
	var b strings.Builder
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(&b, "(%s: %v)\n", path, err)
			continue
		}
		data = bytes.TrimSpace(data)
		if len(data) == 0 {
			continue
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(&b, "%s:\n%s\n", path, strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(nothing)"
	}
	return strings.TrimRight(b.String(), "\n")
}

// Done is closed when nginx has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how nginx exited, once [Process.Done] is closed: nil when
// it exited with status 0.
func (p *Process) Err() error {
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%snginx exited: %w", errPrefix, p.err)
		}
		return nil
	default:
		return nil
	}
}

// Stop stops nginx gracefully (SIGQUIT: finish the requests in flight),
// then with SIGTERM, and finally kills its process group after
// [StopTimeout]. It waits for the master to exit and is safe to call more
// than once.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = errprefix.Add(errPrefix, p.stop()) })
	return p.stopErr
}

func (p *Process) stop() error {
	signals := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGQUIT, StopTimeout / 2}, {syscall.SIGTERM, StopTimeout / 2}}
	for _, s := range signals {
		select {
		case <-p.done:
			p.logger.Info("nginx stopped", "pid", p.PID)
			return nil
		default:
		}
		_ = p.cmd.Process.Signal(s.sig)
		select {
		case <-p.done:
			p.logger.Info("nginx stopped", "pid", p.PID)
			return nil
		case <-time.After(s.wait):
		}
	}
	// The master did not exit: kill it and its workers (its process group).
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("nginx (pid %d) did not stop within %s and was killed", p.PID, StopTimeout)
}
