package secretfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStageDiscardLeavesTheDestinationAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))

	s, err := Stage(path, []byte("new"))
	require.NoError(t, err)
	tmp := s.TempPath()
	assert.Equal(t, dir, filepath.Dir(tmp), "the temporary file is beside its destination")
	fi, err := os.Stat(tmp)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	got, _ := os.ReadFile(path)
	assert.Equal(t, "old", string(got), "staging does not touch the destination")

	s.Discard()
	s.Discard() // twice is harmless
	assert.NoFileExists(t, tmp)
	got, _ = os.ReadFile(path)
	assert.Equal(t, "old", string(got))
	assert.Error(t, s.Commit(), "commit after discard")
}

func TestStageCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret")
	s, err := Stage(path, []byte("new"))
	require.NoError(t, err)
	tmp := s.TempPath()
	require.NoError(t, s.Commit())
	s.Discard() // after commit: nothing to do
	assert.NoFileExists(t, tmp)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1, "no temporary file is left")
}

func TestStageFailsOnAFileAsFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := Stage(filepath.Join(file, "secret"), []byte("x"))
	assert.ErrorContains(t, err, "not a directory")
}
