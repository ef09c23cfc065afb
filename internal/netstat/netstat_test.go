package netstat

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHexAddr(t *testing.T) {
	a, err := parseHexAddr("0100007F:1F90")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", a.String())
	a, err = parseHexAddr("00000000000000000000000001000000:0050")
	require.NoError(t, err)
	assert.Equal(t, "[::1]:80", a.String())
	_, err = parseHexAddr("zz")
	require.Error(t, err)
}

func TestListeningSeesOwnSocketsOnly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	got, err := Listening(os.Getpid())
	require.NoError(t, err)
	want := l.Addr().(*net.TCPAddr).AddrPort()
	assert.Contains(t, got, want)
	l.Close()
	got, err = Listening(os.Getpid())
	require.NoError(t, err)
	assert.NotContains(t, got, want)
}
