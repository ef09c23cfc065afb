package provisioning

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nobodyUID is the uid of an unprivileged user who plants folders.
const nobodyUID = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
}

// writeFile writes content to path, creating its folder (0700).
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func assertFile(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "%s must survive", path)
	assert.Equal(t, content, string(b))
}

func assertMissing(t *testing.T, path string) {
	t.Helper()
	_, err := os.Lstat(path)
	assert.True(t, os.IsNotExist(err), "%s must be gone", path)
}

func TestCheckOutputRefusesAFolderOthersCanChange(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	foreign := filepath.Join(base, "foreign")
	require.NoError(t, os.Mkdir(foreign, 0o700))
	require.NoError(t, os.Chown(foreign, nobodyUID, nobodyUID))

	// The reviewer's folder: made by nobody, mode 0777.
	shared := filepath.Join(base, "shared", "out")
	require.NoError(t, os.MkdirAll(shared, 0o755))
	require.NoError(t, os.Chmod(shared, 0o777))
	require.NoError(t, os.Chown(shared, nobodyUID, nobodyUID))
	err := checkOutput(shared)
	require.Error(t, err)
	assert.ErrorContains(t, err, "is owned by uid 65534")
	require.NoError(t, os.Chown(shared, 0, 0))
	assert.ErrorContains(t, checkOutput(shared), "is writable by group or others")
	require.NoError(t, os.Chmod(shared, 0o755))
	require.NoError(t, checkOutput(shared))

	// Subfolders planted as links to nobody's folders.
	for _, sub := range []string{"services", "clients", "routers"} {
		link := filepath.Join(shared, sub)
		require.NoError(t, os.Symlink(foreign, link))
		err := checkOutput(shared)
		assert.ErrorContains(t, err, link+" is a symbolic link", sub)
		_, err = outputDir(shared, sub)
		assert.ErrorContains(t, err, "is a symbolic link", sub)
		require.NoError(t, os.Remove(link))
	}
	// A service folder that is a link, or nobody's.
	services := filepath.Join(shared, "services")
	require.NoError(t, os.Mkdir(services, 0o700))
	require.NoError(t, os.Symlink(foreign, filepath.Join(services, "core-data")))
	assert.ErrorContains(t, checkOutput(shared), "core-data is a symbolic link")
	require.NoError(t, os.Remove(filepath.Join(services, "core-data")))
	require.NoError(t, os.Mkdir(filepath.Join(services, "core-data"), 0o700))
	require.NoError(t, os.Chown(filepath.Join(services, "core-data"), nobodyUID, nobodyUID))
	assert.ErrorContains(t, checkOutput(shared), "is owned by uid 65534")
	assert.ErrorContains(t, serviceDir(shared, "core-data"), "is owned by uid 65534")

	entries, err := os.ReadDir(foreign)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written through the links")
}

func TestCheckOutputRefusesAnOutputUnderAFolderOfAnotherUser(t *testing.T) {
	needRoot(t)
	shared := filepath.Join(t.TempDir(), "shared")
	require.NoError(t, os.Mkdir(shared, 0o755))
	require.NoError(t, os.Chown(shared, nobodyUID, nobodyUID))
	err := checkOutput(filepath.Join(shared, "out"))
	assert.ErrorContains(t, err, "is owned by uid 65534")
	assertMissing(t, filepath.Join(shared, "out"))
}

func TestOutputDirCreatesAndTightensFolders(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	dir, err := outputDir(out, "services", "core-data")
	require.NoError(t, err)
	for _, d := range []string{out, filepath.Join(out, "services"), dir} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}
	clients := filepath.Join(out, "clients")
	require.NoError(t, os.Mkdir(clients, 0o700))
	require.NoError(t, os.Chmod(clients, 0o755))
	_, err = outputDir(out, "clients")
	require.NoError(t, err)
	fi, err := os.Stat(clients)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "an existing clients folder at 0755 is tightened")

	_, err = outputDir(out, "..")
	assert.Error(t, err)
}

// removeCredentials runs the change destroy plans for the credentials of
// service name.
func removeCredentials(t *testing.T, out, name string) error {
	t.Helper()
	v := &vaultSide{t: &Topology{Output: out}}
	changes, err := credentialsKind{}.remove(t.Context(), v, &serviceState{name: name})
	require.NoError(t, err)
	for _, c := range changes {
		if err := c.apply(t.Context()); err != nil {
			return err
		}
	}
	return nil
}

func TestDestroyRemovesOnlyTheFilesItWrote(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	dir := filepath.Join(out, "services", "core-data")
	for _, f := range serviceFiles {
		writeFile(t, filepath.Join(dir, f), "ztedge's")
	}
	writeFile(t, filepath.Join(dir, "my-notes.txt"), "mine")
	require.NoError(t, removeCredentials(t, out, "core-data"))
	for _, f := range serviceFiles {
		assertMissing(t, filepath.Join(dir, f))
	}
	assertFile(t, filepath.Join(dir, "my-notes.txt"), "mine")

	// Without the user's file, the emptied folder goes.
	require.NoError(t, os.Remove(filepath.Join(dir, "my-notes.txt")))
	writeFile(t, filepath.Join(dir, serviceFiles[0]), "ztedge's")
	require.NoError(t, removeCredentials(t, out, "core-data"))
	assertMissing(t, dir)
}

func TestDestroyFollowsNoPlantedLink(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "out")
	// A root-owned folder named core-data elsewhere, with files.
	elsewhere := filepath.Join(base, "elsewhere")
	victim := filepath.Join(elsewhere, "core-data")
	writeFile(t, filepath.Join(victim, "credentials.json"), "not ztedge's")
	writeFile(t, filepath.Join(victim, "data"), "precious")

	// services re-pointed to elsewhere.
	require.NoError(t, os.MkdirAll(out, 0o700))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(out, "services")))
	err := removeCredentials(t, out, "core-data")
	assert.ErrorContains(t, err, "is a symbolic link")
	assertFile(t, filepath.Join(victim, "credentials.json"), "not ztedge's")
	assertFile(t, filepath.Join(victim, "data"), "precious")

	// services/core-data re-pointed to the victim.
	require.NoError(t, os.Remove(filepath.Join(out, "services")))
	require.NoError(t, os.Mkdir(filepath.Join(out, "services"), 0o700))
	require.NoError(t, os.Symlink(victim, filepath.Join(out, "services", "core-data")))
	err = removeCredentials(t, out, "core-data")
	assert.ErrorContains(t, err, "is a symbolic link")
	assertFile(t, filepath.Join(victim, "credentials.json"), "not ztedge's")
	assertFile(t, filepath.Join(victim, "data"), "precious")

	// A link in place of credentials.json is removed, not its target.
	require.NoError(t, os.Remove(filepath.Join(out, "services", "core-data")))
	dir := filepath.Join(out, "services", "core-data")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Symlink(filepath.Join(victim, "data"), filepath.Join(dir, "credentials.json")))
	require.NoError(t, removeCredentials(t, out, "core-data"))
	assertMissing(t, dir)
	assertFile(t, filepath.Join(victim, "data"), "precious")
}

func TestDestroyRefusesAServiceFolderOfAnotherUser(t *testing.T) {
	needRoot(t)
	out := filepath.Join(t.TempDir(), "out")
	dir := filepath.Join(out, "services", "core-data")
	writeFile(t, filepath.Join(dir, "credentials.json"), "nobody's")
	require.NoError(t, os.Chown(dir, nobodyUID, nobodyUID))
	err := removeCredentials(t, out, "core-data")
	assert.ErrorContains(t, err, "is owned by uid 65534")
	assertFile(t, filepath.Join(dir, "credentials.json"), "nobody's")
}

func TestEdgeXRemovalsFollowNoPlantedLink(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "out")
	victim := filepath.Join(base, "victim")
	writeFile(t, filepath.Join(victim, EnvFileName), "precious")
	require.NoError(t, os.MkdirAll(filepath.Join(out, "services"), 0o700))
	// A real folder of a service that left, holding only an env file that
	// is a link to the victim's.
	dir := filepath.Join(out, "services", "gone")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Symlink(filepath.Join(victim, EnvFileName), filepath.Join(dir, EnvFileName)))
	changes, err := planEdgeXRemovals(t.Context(), nil, out, nil)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	require.NoError(t, changes[0].apply(t.Context()))
	assertMissing(t, filepath.Join(dir, EnvFileName))
	assertFile(t, filepath.Join(victim, EnvFileName), "precious")
}
