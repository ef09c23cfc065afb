// Package configfile reads the files a user points ztedge at: bounded size,
// ~ expansion. Topologies, service and gateway configurations, token,
// password and CA files are read with [Read], which refuses anything
// larger than [MaxSize] (a device such as /dev/zero included), and the
// file paths configurations hold are resolved with [Resolve] or
// [ResolveFields].
package configfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxSize is the largest configuration file [Read] accepts, in bytes
// (4 MiB): far above any real topology or configuration, far below what
// would make reading one slow or costly.
const MaxSize = 4 << 20

// ErrTooLarge is the error [Read] wraps, after the file's path, for a file
// larger than [MaxSize].
var ErrTooLarge = fmt.Errorf("larger than %d MiB: more than any file ztedge reads", MaxSize>>20)

// Read returns the contents of the configuration file at path. It reads at
// most [MaxSize] bytes, and a file (or device, or pipe) holding more is an
// error naming path, so a wrong path never makes ztedge read without bound.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return data, nil
}

// ExpandHome replaces a leading "~/" in path, or a path that is just "~",
// with the user's home folder; any other path is returned unchanged. It
// is an error when the home folder is unknown or not absolute, and for
// the "~user/" form, which is not supported.
func ExpandHome(path string) (string, error) {
	if path == "" || path[0] != '~' {
		return path, nil
	}
	rest := path[1:]
	if rest != "" && rest[0] != '/' {
		return "", fmt.Errorf("%s: only ~/ (your own home folder) is supported, not ~user/", path)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%s: the home folder is unknown: %w", path, err)
	}
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("%s: the home folder %q is not an absolute path", path, home)
	}
	return filepath.Join(home, rest), nil
}

// Resolve turns a file path read from a configuration file in folder dir
// into the path to use: "~/" expanded by [ExpandHome], then a relative
// path made absolute against dir. An empty path stays empty.
func Resolve(dir, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	path, err := ExpandHome(path)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return path, nil
}

// Field is a file path setting of a configuration, for [ResolveFields].
type Field struct {
	// Name names the setting in errors, as the file spells it
	// ("vault.caCert").
	Name string
	// Path points to the setting's value, which ResolveFields replaces.
	Path *string
}

// ResolveFields replaces each field's path with what [Resolve] makes of it
// against dir. It returns every field's error, each after its name.
func ResolveFields(dir string, fields ...Field) error {
	var errs []error
	for _, f := range fields {
		p, err := Resolve(dir, *f.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		*f.Path = p
	}
	return errors.Join(errs...)
}
