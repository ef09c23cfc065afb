package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrUnsafeDir is wrapped by the errors of [CheckDir], [CheckDirTree],
// [EnsurePrivateDir] and [KeepPrivateDirs] for a folder whose files someone
// other than the current user (or root) could replace: a symbolic link, a
// folder of another user, a folder group or others may write.
var ErrUnsafeDir = errors.New("unsafe folder")

// CheckDir refuses path unless it is a folder (not a symbolic link to one)
// owned by the current user or by root that neither group nor others may
// write. Errors name the folder and say what is wrong with it: "is a
// symbolic link", "is owned by uid N", "is writable by group or others".
func CheckDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("folder %s: %w", path, err)
	}
	return checkDirInfo(path, fi, false)
}

// checkDirInfo is [CheckDir] on fi, the Lstat of path. With sticky set, a
// folder group or others may write is accepted when its sticky bit is set
// (as on /tmp), since then only a file's owner may rename or remove it.
func checkDirInfo(path string, fi fs.FileInfo, sticky bool) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("folder %s is a symbolic link: give the real folder (%w)", path, ErrUnsafeDir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a folder (%w)", path, ErrUnsafeDir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() && uid != 0 {
		return fmt.Errorf("folder %s is owned by uid %d, neither the current user (uid %d) nor root, who could replace its files (%w)",
			path, uid, os.Getuid(), ErrUnsafeDir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && !(sticky && fi.Mode()&fs.ModeSticky != 0) {
		return fmt.Errorf("folder %s is writable by group or others (mode %04o), who could replace its files; run chmod go-w %s (%w)",
			path, perm, path, ErrUnsafeDir)
	}
	return nil
}

// CheckDirTree checks dir with [CheckDir] and every folder above it up to
// the file system's root: each must belong to the current user or root and
// be writable by no one else, or, above dir, have its sticky bit set (as
// /tmp). Symbolic links above dir are resolved first (/var/run is one on
// many systems), dir itself must not be one. When dir is missing, its
// first existing ancestor is checked as the folders above dir are, since
// the folders created in it will be the current user's.
func CheckDirTree(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	cur, strict := abs, true
	for {
		_, err := os.Lstat(cur)
		if err == nil {
			break
		}
		parent := filepath.Dir(cur)
		if !errors.Is(err, fs.ErrNotExist) || parent == cur {
			return fmt.Errorf("folder %s: %w", cur, err)
		}
		cur, strict = parent, false
	}
	if strict {
		if err := CheckDir(cur); err != nil {
			return err
		}
		if cur = filepath.Dir(cur); cur == abs {
			return nil // the root
		}
	}
	real, err := filepath.EvalSymlinks(cur)
	if err != nil {
		return fmt.Errorf("folder %s: %w", cur, err)
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("folder %s: %w", p, err)
		}
		if err := checkDirInfo(p, fi, true); err != nil {
			return err
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// EnsurePrivateDir creates path with mode 0700 when it is missing (its
// parent must exist), refuses it as [CheckDir] does, and sets mode 0700 on
// it when group or others may read or enter it.
func EnsurePrivateDir(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating folder %s: %w", path, err)
	}
	return keepPrivate(path)
}

// keepPrivate checks path with [CheckDir] and sets mode 0700 on it through
// a handle opened on the very folder checked, so that a link swapped in
// between has no effect.
func keepPrivate(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("folder %s: %w", path, err)
	}
	if err := checkDirInfo(path, fi, false); err != nil {
		return err
	}
	if fi.Mode().Perm() == 0o700 || runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("folder %s: %w", path, err)
	}
	defer f.Close()
	if opened, err := f.Stat(); err != nil || !os.SameFile(fi, opened) {
		return fmt.Errorf("folder %s changed while being checked (%w)", path, ErrUnsafeDir)
	}
	if err := f.Chmod(0o700); err != nil {
		return fmt.Errorf("setting mode 0700 on folder %s: %w", path, err)
	}
	return nil
}

// RemoveFiles removes the files named in folder dir, which must pass
// [CheckDir], without following a symbolic link in dir or in place of a
// file (a link is removed, not its target). Missing files are skipped;
// names must be plain file names.
func RemoveFiles(dir string, names ...string) error {
	if err := CheckDir(dir); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	defer root.Close()
	for _, n := range names {
		if n != filepath.Base(n) || n == "." || n == ".." {
			return fmt.Errorf("removing %q from %s: not a plain file name", n, dir)
		}
		fi, err := root.Lstat(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", filepath.Join(dir, n), err)
		}
		if fi.IsDir() {
			return fmt.Errorf("not removing %s: it is a folder", filepath.Join(dir, n))
		}
		if err := root.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", filepath.Join(dir, n), err)
		}
	}
	return nil
}

// RemoveDirIfEmpty removes folder dir when it is empty and passes
// [CheckDir]; a folder that still holds files is left in place, and a
// missing one is no error. It reports whether dir was removed.
func RemoveDirIfEmpty(dir string) (bool, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := CheckDir(dir); err != nil {
		return false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("folder %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return false, nil
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("removing folder %s: %w", dir, err)
	}
	return true, nil
}
