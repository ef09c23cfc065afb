package provisioning

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// The output folder receives credentials, identity files and enrolment
// tokens, and destroy removes files from it, all as the user running
// ztedge (often root). Whoever else could change the folder or one of its
// subfolders could plant a symbolic link and have ztedge write secrets
// where they can read them, or delete through it. So every folder of it
// must be a real folder of the running user (or root) that no one else may
// write; the subfolders ztedge creates are created with mode 0700, and
// existing ones are set to 0700 before anything is written in them.

// outputSubdirs are the subfolders of the output folder ztedge writes in.
var outputSubdirs = []string{"services", "clients", "routers"}

// serviceFiles are the files ztedge writes in a service's folder
// <output>/services/<name>: destroy removes these and nothing else.
var serviceFiles = []string{
	filepath.Base(credentials.Path("", "s")),
	credentials.ControllerCAFileName,
	credentials.VaultCAFileName,
	edgextoken.FileName,
	EnvFileName,
}

// checkOutput prepares the output folder before anything is written to it
// or removed from it: the folder is created (mode 0700) when missing, and
// it, the folders above it, its subfolders services, clients and routers
// and every folder in services are refused when someone other than the
// running user or root could change them (see [secretfile.CheckDir]).
func checkOutput(output string) error {
	if err := ensureOutput(output); err != nil {
		return err
	}
	for _, sub := range outputSubdirs {
		dir := filepath.Join(output, sub)
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := secretfile.CheckDir(dir); err != nil {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	services := filepath.Join(output, "services")
	entries, err := os.ReadDir(services)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			if err := secretfile.CheckDir(filepath.Join(services, e.Name())); err != nil {
				return fmt.Errorf("output folder: %w", err)
			}
		}
	}
	return nil
}

// ensureOutput checks the output folder and the folders above it (see
// [secretfile.CheckDirTree]), creating it with mode 0700 when missing.
func ensureOutput(output string) error {
	if err := secretfile.CheckDirTree(output); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if err := os.MkdirAll(output, 0o700); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if err := secretfile.CheckDir(output); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	return nil
}

// outputDir returns <output>/<elems...> after preparing the output folder
// (see [ensureOutput]) and creating (mode 0700) or checking and setting to 0700 each folder
// below it, one level at a time, so that no symbolic link is followed.
func outputDir(output string, elems ...string) (string, error) {
	if err := ensureOutput(output); err != nil {
		return "", err
	}
	dir := output
	for _, e := range elems {
		if e == "" || e == "." || e == ".." || e != filepath.Base(e) {
			return "", fmt.Errorf("output folder: %q cannot name a folder", e)
		}
		dir = filepath.Join(dir, e)
		if err := secretfile.EnsurePrivateDir(dir); err != nil {
			return "", fmt.Errorf("output folder: %w", err)
		}
	}
	return dir, nil
}

// serviceDir prepares <output>/services/<name> for writing (see [outputDir]).
func serviceDir(output, name string) error {
	_, err := outputDir(output, "services", name)
	return err
}

// removeOutputFiles removes files of <output>/<elems...>, given by name,
// after checking the output folder and each folder below it, never
// following a symbolic link. A missing folder is no error.
func removeOutputFiles(output string, elems []string, names ...string) error {
	dir := output
	for _, d := range append([]string{""}, elems...) {
		dir = filepath.Join(dir, d)
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err := secretfile.CheckDir(dir); err != nil {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	return secretfile.RemoveFiles(dir, names...)
}

// removeServiceFolder removes the files ztedge writes in the folder of
// service name and then the folder, only when nothing else is left in it.
func removeServiceFolder(output, name string) error {
	if err := removeOutputFiles(output, []string{"services", name}, serviceFiles...); err != nil {
		return err
	}
	if _, err := secretfile.RemoveDirIfEmpty(filepath.Join(output, "services", name)); err != nil {
		return err
	}
	return nil
}
