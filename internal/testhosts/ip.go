//go:build linux

package testhosts

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// The commands this package runs. Debian installs them in /usr/sbin,
// which may not be on a non-root PATH.
var (
	ipBin  = findTool("ip")  // iproute2
	nftBin = findTool("nft") // nftables
)

// findTool returns the path of name on PATH, or /usr/sbin/name.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// ip runs an ip(8) command in the root namespace.
func ip(args ...string) error {
	_, err := ipOutput(args...)
	return err
}

// ipOutput runs an ip(8) command and returns its standard output; its
// error carries the command and what ip printed.
func ipOutput(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ipBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ipIgnoreMissing runs an ip(8) delete and treats "already gone" as done.
func ipIgnoreMissing(args ...string) error {
	err := ip(args...)
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, gone := range []string{"Cannot find device", "No such file or directory", "does not exist"} {
		if strings.Contains(msg, gone) {
			return nil
		}
	}
	return err
}
