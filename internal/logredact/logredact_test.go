package logredact_test

import (
	"bytes"
	"fmt"
	"io"
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
		// Tokens named in a message, and fields in a JSON message.
		{`{error=[no api session found for token [6f1c2d3e-4b5a-6789-abcd-ef0123456789], fingerprint: ab]}`,
			`{error=[no api session found for token [[redacted]], fingerprint: ab]}`},
		{`removing api session [token: 6f1c2d3e-4b5a-6789]`, `removing api session [token: [redacted]]`},
		{`{"msg":"got token=abc","x":1}`, `{"msg":"got token=[redacted]","x":1}`},
		{`failed to renew token: connection refused`, `failed to renew token: connection refused`},
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
	const secret = "6f1c2d3e-4b5a-6789-abcd-ef0123456789"
	for _, pad := range []int{65533, 65525, 65540, 200 << 10} {
		for _, field := range []string{" token=[" + secret + "]", `","sessionToken":"` + secret + `"}`} {
			var out bytes.Buffer
			w := logredact.NewWriter(&out)
			in := strings.Repeat("a", pad) + field + "\nnext line token=[" + secret + "]\n"
			// As exec passes a child's output on: 32 KiB at a time.
			_, err := io.CopyBuffer(w, strings.NewReader(in), make([]byte, 32<<10))
			require.NoError(t, err)
			require.NoError(t, w.Close())
			assert.NotContains(t, out.String(), secret[:8], "pad %d, %q", pad, field)
			assert.True(t, strings.HasSuffix(out.String(), "\nnext line token=[redacted]\n"), "the next line passes, pad %d", pad)
			if pad+len(field) > 64<<10 {
				assert.Contains(t, out.String(), logredact.Truncated, "pad %d", pad)
				assert.LessOrEqual(t, out.Len(), 64<<10+100)
			}
		}
	}
}

func ExampleNewWriter() {
	w := logredact.NewWriter(os.Stdout)
	fmt.Fprintln(w, `{"level":"info","msg":"establishing terminator","sessionToken":"e1f9c2"}`)
	_ = w.Close()
	// Output: {"level":"info","msg":"establishing terminator","sessionToken":"[redacted]"}
}
