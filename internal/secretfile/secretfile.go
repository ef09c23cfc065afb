// Package secretfile writes and reads files that hold secrets (credentials,
// keys, identity files): written atomically with mode 0600 in a folder of
// mode 0700, read only when no one but the owner may read or change them.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Write writes data to path atomically (a temporary file in the same
// folder, synced, then renamed over path) with mode 0600, creating missing
// parent folders with mode 0700. A symbolic link at path is replaced, never
// followed.
func Write(path string, data []byte) error {
	return WriteMode(path, data, 0o600)
}

// WriteMode is [Write] with another file mode, for files that are not
// secret but must not be swapped under a reader (a certificate, a
// configuration).
func WriteMode(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ErrNotPrivate is returned for a file that group or others may read or write.
var ErrNotPrivate = errors.New("readable or writable by group or others")

// Read reads a regular file of at most max bytes that only its owner may
// read or write. what names the file in errors ("vault credentials file").
func Read(path, what string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %04o: it holds a secret and must not be %w (run chmod 600 %s)",
			what, path, perm, ErrNotPrivate, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s %s is larger than %d bytes", what, path, max)
	}
	return data, nil
}

// KeepPrivateDirs sets mode 0700 on each existing folder given.
func KeepPrivateDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("setting mode 0700 on folder %s: %w", d, err)
		}
	}
	return nil
}
