package logredact_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/logredact"
)

const sampleJWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJjb3JlLWRhdGEifQ.c2lnbmF0dXJlLXZhbHVl"

func TestLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// The Ziti router's JSON lines (logrus JSON formatter).
		{`{"level":"info","msg":"establishing terminator","token":"` + sampleJWT + `","sessionToken":"8a1c-uuid"}`,
			`{"level":"info","msg":"establishing terminator","token":"[redacted]","sessionToken":"[redacted]"}`},
		{`{"msg":"x","apiSessionToken" : "a\"b"}`, `{"msg":"x","apiSessionToken" : "[redacted]"}`},
		// pfxlog's text format and logrus key=value.
		{`INFO edge: {sessionToken=[abc-123] token=[` + sampleJWT + `]} establishing terminator`,
			`INFO edge: {sessionToken=[redacted] token=[redacted]} establishing terminator`},
		{`level=info token=abc123 jwt="q r" msg=ok`, `level=info token=[redacted] jwt=[redacted] msg=ok`},
		// Bare JWTs and Vault tokens, wherever they are.
		{"Authorization: Bearer " + sampleJWT, "Authorization: Bearer [redacted]"},
		{"login ok hvs.CAESIJ0123456789abcdefghijklmnop done", "login ok [redacted] done"},
		// Nothing to redact.
		{`{"msg":"tokens renewed","tokenType":"service","count":3}`, `{"msg":"tokens renewed","tokenType":"service","count":3}`},
	} {
		assert.Equal(t, tc.want, string(logredact.Line([]byte(tc.in))), "%s", tc.in)
	}
}

func TestWriterLines(t *testing.T) {
	var out bytes.Buffer
	w := logredact.NewWriter(&out)
	line := `{"token":"` + sampleJWT + `"}` + "\n"
	// Written in pieces that cut the token: still redacted.
	for _, piece := range []string{line[:10], line[10:40], line[40:] + "plain line\npartial " + sampleJWT[:20], sampleJWT[20:]} {
		n, err := w.Write([]byte(piece))
		require.NoError(t, err)
		assert.Equal(t, len(piece), n)
	}
	assert.Equal(t, `{"token":"[redacted]"}`+"\nplain line\n", out.String(), "a partial line waits for its end")
	require.NoError(t, w.Close())
	assert.Equal(t, `{"token":"[redacted]"}`+"\nplain line\npartial [redacted]", out.String())
	assert.NotContains(t, out.String(), "eyJ")
}

func TestWriterLongLine(t *testing.T) {
	var out bytes.Buffer
	w := logredact.NewWriter(&out)
	long := strings.Repeat("a", 200<<10)
	_, err := w.Write([]byte(long))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, out.Len(), 128<<10, "a line longer than the buffer is passed on in pieces")
	require.NoError(t, w.Close())
	assert.Equal(t, long, out.String())
}

func ExampleNewWriter() {
	w := logredact.NewWriter(os.Stdout)
	fmt.Fprintln(w, `{"level":"info","msg":"establishing terminator","sessionToken":"e1f9c2"}`)
	_ = w.Close()
	// Output: {"level":"info","msg":"establishing terminator","sessionToken":"[redacted]"}
}
