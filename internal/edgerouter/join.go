package edgerouter

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/internal/logredact"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// enrollTimeout bounds "ziti router enroll".
const enrollTimeout = 2 * time.Minute

// Prepare writes the router's configuration file (mode 0600, folder
// 0700) and, unless the router is enrolled already, enrolls it with
// token through "zitiBin router enroll" (an EC key). It reports whether
// it enrolled the router now. Calling it again changes nothing but the
// configuration file: an enrolled router is never enrolled again, so its
// key and certificates stay.
//
// token may be nil for a router that is enrolled. An enrolled router
// whose server certificate is not valid for the advertised address is an
// error: its certificate was made for another address.
func Prepare(ctx context.Context, c Config, zitiBin string, token *Token, log io.Writer) (enrolled bool, err error) {
	data, err := c.Render()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return false, fmt.Errorf("edgerouter: %w", err)
	}
	if err := secretfile.KeepPrivateDirs(c.Dir); err != nil {
		return false, fmt.Errorf("edgerouter: %w", err)
	}
	done, err := c.Enrolled()
	if err != nil {
		return false, err
	}
	if err := secretfile.Write(c.ConfigFile(), data); err != nil {
		return false, fmt.Errorf("edgerouter: %w", err)
	}
	if done {
		fmt.Fprintf(log, "router %s is enrolled already (key and certificates in %s)\n", c.Name, c.Dir)
		return false, nil
	}
	if token == nil {
		return false, fmt.Errorf("edgerouter: router %s is not enrolled and no enrolment token was given", c.Name)
	}
	if !token.Expires.IsZero() && time.Now().After(token.Expires) {
		return false, fmt.Errorf("edgerouter: the enrolment token of router %s expired at %s: run \"ztedge provision apply\" for a new one",
			c.Name, token.Expires.Format(time.RFC3339))
	}
	tokenFile, err := writeTemp(c.Dir, token.Raw)
	if err != nil {
		return false, err
	}
	defer os.Remove(tokenFile)
	ctx, cancel := context.WithTimeout(ctx, enrollTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, zitiBin, "router", "enroll", c.ConfigFile(), "--jwt", tokenFile, "--keyAlg", "EC")
	cmd.Dir = c.Dir
	raw, err := cmd.CombinedOutput()
	out := logredact.Line(raw) // the enrolment token, should ziti print it
	if err != nil {
		return false, fmt.Errorf("edgerouter: enrolling router %s (%s router enroll): %w\n%s", c.Name, zitiBin, err, lastLines(string(out), 15))
	}
	if ok, err := c.Enrolled(); err != nil || !ok {
		return false, fmt.Errorf("edgerouter: %s router enroll exited without writing the router's certificates (%v)\n%s", zitiBin, err, lastLines(string(out), 15))
	}
	fmt.Fprintf(log, "router %s enrolled (key and certificates in %s)\n", c.Name, c.Dir)
	return true, nil
}

// Enrolled reports whether the router's key and certificates are in Dir.
// A server certificate that does not name the advertised address is an
// error.
func (c Config) Enrolled() (bool, error) {
	for _, f := range []string{c.keyFile(), c.certFile(), c.serverCertFile(), c.caFile()} {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("edgerouter: %w", err)
		}
	}
	b, err := os.ReadFile(c.serverCertFile())
	if err != nil {
		return false, fmt.Errorf("edgerouter: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return false, fmt.Errorf("edgerouter: %s holds no certificate", c.serverCertFile())
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false, fmt.Errorf("edgerouter: %s: %w", c.serverCertFile(), err)
	}
	if err := cert.VerifyHostname(c.Advertise); err != nil {
		return false, fmt.Errorf("edgerouter: router %s was enrolled for another address (%v); to move it, remove %s, "+
			"have the controller issue a new token (ziti edge re-enroll edge-router %s, then ztedge provision apply writes it) and join again", c.Name, err, c.Dir, c.Name)
	}
	return true, nil
}

// writeTemp writes the token to a private temporary file in dir.
func writeTemp(dir, token string) (string, error) {
	f, err := os.CreateTemp(dir, ".enrol-*.jwt")
	if err != nil {
		return "", fmt.Errorf("edgerouter: %w", err)
	}
	_, werr := f.WriteString(token)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("edgerouter: writing the token: %w", errors.Join(werr, cerr))
	}
	return f.Name(), nil
}

// RunArgs returns the command line that runs the router.
func (c Config) RunArgs(zitiBin string) []string {
	return []string{zitiBin, "router", "run", c.ConfigFile()}
}

// Command returns the command that runs the router in the foreground, in
// its folder. When ctx ends the router gets SIGTERM, and SIGKILL 10 s
// later if it has not exited.
func (c Config) Command(ctx context.Context, zitiBin string) *exec.Cmd {
	args := c.RunArgs(zitiBin)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = c.Dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// ShellQuote joins args into one line a POSIX shell reads back as args.
func ShellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
