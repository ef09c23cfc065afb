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
// followed. The folder of path is refused as [CheckDir] refuses it: callers
// that write below a folder others may change check the folders above
// (see [CheckDirTree] and [EnsurePrivateDir]).
func Write(path string, data []byte) error {
	return WriteMode(path, data, 0o600)
}

// WriteMode is [Write] with another file mode, for files that are not
// secret but must not be swapped under a reader (a certificate, a
// configuration).
func WriteMode(path string, data []byte, mode os.FileMode) error {
	s, err := StageMode(path, data, mode)
	if err != nil {
		return err
	}
	return s.Commit()
}

// Staged is data written to a temporary file beside its destination, not
// yet in place: [Staged.Commit] renames it over the destination,
// [Staged.Discard] removes it. It lets a caller check that a file can be
// written before doing something that cannot be undone.
type Staged struct {
	path, tmp string
	done      bool
}

// Stage writes data to a temporary file (mode 0600, synced) in the folder
// of path, creating missing parent folders with mode 0700 and refusing a
// folder as [CheckDir] does, and returns it staged: path is not touched
// until [Staged.Commit].
func Stage(path string, data []byte) (*Staged, error) {
	return StageMode(path, data, 0o600)
}

// StageMode is [Stage] with another file mode.
func StageMode(path string, data []byte, mode os.FileMode) (*Staged, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := CheckDir(dir); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
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
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	return &Staged{path: path, tmp: name}, nil
}

// TempPath is the temporary file holding the staged data, "" once it was
// committed or discarded.
func (s *Staged) TempPath() string {
	if s.done {
		return ""
	}
	return s.tmp
}

// Commit renames the staged file over its destination (a symbolic link
// there is replaced, never followed). On failure the temporary file is
// removed. Commit after Commit or Discard fails.
func (s *Staged) Commit() error {
	if s.done {
		return fmt.Errorf("writing %s: already committed or discarded", s.path)
	}
	s.done = true
	if err := os.Rename(s.tmp, s.path); err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Discard removes the staged file, leaving the destination as it was. It
// does nothing after Commit or Discard, so it can be deferred.
func (s *Staged) Discard() {
	if s.done {
		return
	}
	s.done = true
	os.Remove(s.tmp)
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

// KeepPrivateDirs sets mode 0700 on each existing folder given, refusing
// (as [CheckDir] does) one that is a symbolic link, belongs to another
// user, or that group or others may write; a link's target is never
// changed.
func KeepPrivateDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := keepPrivate(d); err != nil {
			return err
		}
	}
	return nil
}
