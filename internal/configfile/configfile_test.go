package configfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadAcceptsMaxSizeAndRefusesOneByteMore(t *testing.T) {
	path := t.TempDir() + "/big.yaml"
	require.NoError(t, os.WriteFile(path, []byte("services: []\n"), 0o600))
	data, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, "services: []\n", string(data))

	require.NoError(t, os.WriteFile(path, make([]byte, MaxSize), 0o600))
	data, err = Read(path)
	require.NoError(t, err)
	require.Len(t, data, MaxSize)

	require.NoError(t, os.WriteFile(path, make([]byte, MaxSize+1), 0o600))
	data, err = Read(path)
	require.Nil(t, data)
	require.ErrorIs(t, err, ErrTooLarge)
	require.EqualError(t, err, path+": larger than 4 MiB: more than any file ztedge reads")
}

func TestReadRefusesAnEndlessDeviceQuickly(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	start := time.Now()
	_, err := Read("/dev/zero")
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorContains(t, err, "/dev/zero: larger than 4 MiB")
	require.Less(t, time.Since(start), 2*time.Second, "reading stops at the limit")
}

func TestReadNamesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Read(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
}

func TestExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for in, want := range map[string]string{
		"~":                home,
		"~/":               home,
		"~/ztedge-out":     filepath.Join(home, "ztedge-out"),
		"~/a/../b":         filepath.Join(home, "b"),
		"/etc/ztedge/x":    "/etc/ztedge/x",
		"relative/~/x":     "relative/~/x",
		"creds.json":       "creds.json",
		"":                 "",
		"./~/not-the-home": "./~/not-the-home",
	} {
		got, err := ExpandHome(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestExpandHomeRefusesAnotherUsersHome(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, in := range []string{"~bob/creds.json", "~bob", "~root/.ssh"} {
		_, err := ExpandHome(in)
		require.EqualError(t, err, in+": only ~/ (your own home folder) is supported, not ~user/")
	}
}

func TestExpandHomeNeedsAnAbsoluteHome(t *testing.T) {
	t.Setenv("HOME", "")
	_, err := ExpandHome("~/x")
	require.ErrorContains(t, err, "~/x: the home folder is unknown")
	t.Setenv("HOME", "relative/home")
	_, err = ExpandHome("~/x")
	require.ErrorContains(t, err, `~/x: the home folder "relative/home" is not an absolute path`)
	got, err := ExpandHome("/abs/x")
	require.NoError(t, err, "a path without ~ needs no home folder")
	require.Equal(t, "/abs/x", got)
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for in, want := range map[string]string{
		"":            "",
		"creds.json":  "/etc/ztedge/creds.json",
		"../ca.pem":   "/etc/ca.pem",
		"/run/x.json": "/run/x.json",
		"~/out":       filepath.Join(home, "out"),
	} {
		got, err := Resolve("/etc/ztedge", in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := Resolve("/etc/ztedge", "~bob/out")
	require.ErrorContains(t, err, "~bob/out: only ~/ (your own home folder) is supported, not ~user/")
}

func TestResolveFieldsNamesEveryBadField(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	out, ca, token := "~/out", "ca.pem", "~bob/token"
	err := ResolveFields("/etc/ztedge",
		Field{Name: "output", Path: &out},
		Field{Name: "caCert", Path: &ca},
		Field{Name: "tokenFile", Path: &token})
	require.EqualError(t, err, "tokenFile: ~bob/token: only ~/ (your own home folder) is supported, not ~user/")
	require.Equal(t, "/home/me/out", out)
	require.Equal(t, "/etc/ztedge/ca.pem", ca)
	require.Equal(t, "~bob/token", token, "a field in error is left as it was")
}
