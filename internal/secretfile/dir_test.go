package secretfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/secretfile"
)

const nobody = 65534

func TestCheckDir(t *testing.T) {
	base := t.TempDir()
	own := filepath.Join(base, "own")
	require.NoError(t, os.Mkdir(own, 0o755))
	assert.NoError(t, secretfile.CheckDir(own), "a folder others may only read")

	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(own, link))
	err := secretfile.CheckDir(link)
	require.ErrorIs(t, err, secretfile.ErrUnsafeDir)
	assert.ErrorContains(t, err, link+" is a symbolic link")

	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	assert.ErrorContains(t, secretfile.CheckDir(open), open+" is writable by group or others (mode 0777)")

	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	assert.ErrorContains(t, secretfile.CheckDir(file), "is not a folder")

	if os.Getuid() == 0 {
		require.NoError(t, os.Chown(own, nobody, nobody))
		assert.ErrorContains(t, secretfile.CheckDir(own), own+" is owned by uid 65534")
	}
}

func TestCheckDirTree(t *testing.T) {
	base := t.TempDir()
	assert.NoError(t, secretfile.CheckDirTree(filepath.Join(base, "missing", "deeper")))
	if fi, err := os.Stat(os.TempDir()); err == nil && fi.Mode()&os.ModeSticky != 0 && fi.Mode().Perm()&0o002 != 0 {
		assert.NoError(t, secretfile.CheckDirTree(filepath.Join(os.TempDir(), "ztedge-missing-folder")), "a sticky folder above is fine")
		assert.ErrorContains(t, secretfile.CheckDirTree(os.TempDir()), "is writable by group or others",
			"but not as the folder itself")
	}

	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	inner := filepath.Join(open, "inner")
	require.NoError(t, os.Mkdir(inner, 0o700))
	assert.ErrorContains(t, secretfile.CheckDirTree(inner), open+" is writable by group or others")
	assert.ErrorContains(t, secretfile.CheckDirTree(filepath.Join(open, "missing")), "is writable by group or others")

	// A link above the folder is resolved; the folder itself must not be one.
	real := filepath.Join(base, "real")
	require.NoError(t, os.MkdirAll(filepath.Join(real, "dir"), 0o700))
	require.NoError(t, os.Symlink(real, filepath.Join(base, "alias")))
	assert.NoError(t, secretfile.CheckDirTree(filepath.Join(base, "alias", "dir")))
	require.NoError(t, os.Symlink(filepath.Join(real, "dir"), filepath.Join(base, "dirlink")))
	assert.ErrorContains(t, secretfile.CheckDirTree(filepath.Join(base, "dirlink")), "is a symbolic link")

	if os.Getuid() == 0 {
		foreign := filepath.Join(base, "foreign")
		require.NoError(t, os.MkdirAll(filepath.Join(foreign, "mine"), 0o700))
		require.NoError(t, os.Chown(foreign, nobody, nobody))
		assert.ErrorContains(t, secretfile.CheckDirTree(filepath.Join(foreign, "mine")), "is owned by uid 65534")
		assert.ErrorContains(t, secretfile.CheckDirTree(filepath.Join(foreign, "new")), "is owned by uid 65534")
	}
}

func TestEnsurePrivateDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "fresh")
	require.NoError(t, secretfile.EnsurePrivateDir(fresh))
	fi, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	readable := filepath.Join(base, "readable")
	require.NoError(t, os.Mkdir(readable, 0o700))
	require.NoError(t, os.Chmod(readable, 0o755))
	require.NoError(t, secretfile.EnsurePrivateDir(readable))
	fi, err = os.Stat(readable)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "tightened")

	target := filepath.Join(base, "target")
	require.NoError(t, os.Mkdir(target, 0o700))
	require.NoError(t, os.Chmod(target, 0o755))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(target, link))
	assert.ErrorContains(t, secretfile.EnsurePrivateDir(link), "is a symbolic link")
	assert.ErrorContains(t, secretfile.KeepPrivateDirs(link), "is a symbolic link")
	fi, err = os.Stat(target)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "a link's target is never changed")
}

func TestWriteRefusesASymlinkedFolder(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	require.NoError(t, os.Mkdir(target, 0o700))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(target, link))
	err := secretfile.Write(filepath.Join(link, "secret"), []byte("s"))
	assert.ErrorContains(t, err, "is a symbolic link")
	entries, err := os.ReadDir(target)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestRemoveFilesAndEmptyDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "dir")
	require.NoError(t, os.Mkdir(dir, 0o700))
	victim := filepath.Join(base, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), nil, 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "b")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes"), nil, 0o600))

	require.NoError(t, secretfile.RemoveFiles(dir, "a", "b", "missing"))
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b), "a link is removed, not its target")
	assert.Error(t, secretfile.RemoveFiles(dir, "../victim"))

	removed, err := secretfile.RemoveDirIfEmpty(dir)
	require.NoError(t, err)
	assert.False(t, removed, "notes is left, and with it the folder")
	require.NoError(t, secretfile.RemoveFiles(dir, "notes"))
	removed, err = secretfile.RemoveDirIfEmpty(dir)
	require.NoError(t, err)
	assert.True(t, removed)
	removed, err = secretfile.RemoveDirIfEmpty(dir)
	assert.NoError(t, err)
	assert.False(t, removed)

	require.NoError(t, os.Mkdir(dir, 0o700))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(dir, link))
	assert.ErrorContains(t, secretfile.RemoveFiles(link, "a"), "is a symbolic link")
	_, err = secretfile.RemoveDirIfEmpty(link)
	assert.ErrorContains(t, err, "is a symbolic link")
}
