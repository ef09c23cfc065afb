package edgextoken_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/internal/secretfile"
)

func validFile() *edgextoken.File {
	return &edgextoken.File{Auth: edgextoken.Auth{ClientToken: "t", EntityID: "e", Renewable: true, Policies: []string{"default"}}}
}

// nobody is the uid of the reviewer's unprivileged user.
const nobody = 65534

// nobodysFolder makes a folder of mode 0755 owned by nobody, skipping the
// test when not run as root.
func nobodysFolder(t *testing.T, name string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to give a folder to another user")
	}
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chown(dir, nobody, nobody))
	return dir
}

func TestWriteRefusesAFolderOfAnotherUser(t *testing.T) {
	dir := nobodysFolder(t, "core-data")
	path := filepath.Join(dir, edgextoken.FileName)
	err := edgextoken.Write(path, validFile())
	require.ErrorIs(t, err, secretfile.ErrUnsafeDir)
	assert.ErrorContains(t, err, "is owned by uid 65534")
	_, statErr := os.Lstat(path)
	assert.True(t, os.IsNotExist(statErr), "nothing written")

	// A file already there (planted by the folder's owner) is not read.
	require.NoError(t, os.WriteFile(path, []byte(`{"auth":{"client_token":"t","entity_id":"e","renewable":true,"policies":["default"]}}`), 0o600))
	_, err = edgextoken.Read(path)
	assert.ErrorContains(t, err, "is owned by uid 65534")
}

func TestWriteRefusesAFolderUnderAnotherUsersFolder(t *testing.T) {
	shared := nobodysFolder(t, "edgex")
	// Missing folders below a folder of nobody's: nobody could rename them.
	err := edgextoken.Write(filepath.Join(shared, "secrets", "core-data", edgextoken.FileName), validFile())
	assert.ErrorContains(t, err, "is owned by uid 65534")
	// An own folder inside it, too.
	own := filepath.Join(shared, "mine")
	require.NoError(t, os.Mkdir(own, 0o700))
	err = edgextoken.Write(filepath.Join(own, edgextoken.FileName), validFile())
	assert.ErrorContains(t, err, "is owned by uid 65534")
}

func TestWriteRefusesASymlinkedFolder(t *testing.T) {
	target, link := t.TempDir(), filepath.Join(t.TempDir(), "core-data")
	require.NoError(t, os.Symlink(target, link))
	err := edgextoken.Write(filepath.Join(link, edgextoken.FileName), validFile())
	assert.ErrorContains(t, err, "is a symbolic link")
	_, statErr := os.Lstat(filepath.Join(target, edgextoken.FileName))
	assert.True(t, os.IsNotExist(statErr), "nothing written through the link")
	_, err = edgextoken.Read(filepath.Join(link, edgextoken.FileName))
	assert.ErrorContains(t, err, "is a symbolic link")
}

func TestWriteCreatesAndTightensItsFolder(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "edgex", "secrets", "core-data")
	path := filepath.Join(fresh, edgextoken.FileName)
	require.NoError(t, edgextoken.Write(path, validFile()))
	fi, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	got, err := edgextoken.Read(path)
	require.NoError(t, err)
	assert.Equal(t, "e", got.Auth.EntityID)

	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o755))
	require.NoError(t, edgextoken.Write(filepath.Join(open, edgextoken.FileName), validFile()))
	fi, err = os.Stat(open)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "a folder others may read is tightened")
}
