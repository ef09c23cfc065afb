package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ztedge/ztedge/internal/secretfile"
)

// The gateway's state folder holds nginx.conf, the TLS key and the logs,
// and NGINX (often started as root) writes into it. Whoever can change it
// can plant a symbolic link that makes NGINX or the gateway overwrite any
// file, or swap the configuration: so every folder of it must belong to
// the running user and be writable by no one else.

// ensurePrivateDir creates dir with mode 0700 if it is missing, and
// refuses one that is a symbolic link, is not a folder, belongs to another
// user (root aside), or that group or others may write (see
// [secretfile.CheckDir]).
func ensurePrivateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state folder: %w", err)
	}
	if err := secretfile.CheckDir(dir); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	return nil
}

// ensureStateDirs checks (creating when missing) the state folder and its
// logs, temp and, when the certificate is generated, tls folders.
func ensureStateDirs(c *Config) error {
	dirs := []string{c.StateDir, filepath.Join(c.StateDir, logsDirName), filepath.Join(c.StateDir, tempDirName)}
	if c.GeneratedCertificate() {
		dirs = append(dirs, filepath.Dir(c.CertFile))
	}
	if err := os.MkdirAll(filepath.Dir(c.StateDir), 0o755); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	for _, d := range dirs {
		if err := ensurePrivateDir(d); err != nil {
			return err
		}
	}
	return nil
}

// openLog opens a log file the gateway writes for truncation, never
// following a symbolic link planted in its place.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return f, nil
}

// checkKeyFile refuses a private key file that others may read or that
// group or others may write (Debian's ssl-cert group may read).
func checkKeyFile(keyFile string) error {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o026 != 0 {
		return fmt.Errorf("TLS key %s has mode %04o: a private key must not be readable by others or writable by group or others; run chmod 600 %s", keyFile, perm, keyFile)
	}
	return nil
}
