package overlay

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/gateway"
)

func TestEventLogTurnsLinesIntoRecords(t *testing.T) {
	var out bytes.Buffer
	l := &eventLog{logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	_, _ = l.Write([]byte("21:46:36 ztedge tunnel: edge router router-quickstart (tls:127.0.0.1:28281) connected\n21:46:33 ztedge tunnel: warning: identity \"gateway\" may"))
	_, _ = l.Write([]byte(" not dial the ziti service \"edgex.device-virtual\"\n"))
	assert.Equal(t, `level=INFO msg="overlay forwarder" event="edge router router-quickstart (tls:127.0.0.1:28281) connected"
level=WARN msg="overlay forwarder" event="warning: identity \"gateway\" may not dial the ziti service \"edgex.device-virtual\""
`, out.String())
}

func TestStartRefusesABadConfigurationBeforeOpeningAnything(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(t.Context(), gateway.Config{
		StateDir: filepath.Join(dir, "gw"),
		Services: map[string]string{"core-data": "zerotrust:core-data"},
	}, nil)
	require.ErrorContains(t, err, "zitiIdentity is empty")
	assert.NoDirExists(t, filepath.Join(dir, "gw"))
}
