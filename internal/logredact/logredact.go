// Package logredact removes tokens from the log output of programs ztedge
// runs and passes on: the Ziti router (1.6) logs the session tokens of the
// terminators it hosts and the circuits it routes, at info level.
package logredact

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// Redacted replaces each token in a redacted line.
const Redacted = "[redacted]"

var (
	// jwt matches a JSON Web Token: base64url header (starting `{"`),
	// payload and signature (empty for an unsigned one).
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// vaultToken matches Vault's service, batch and recovery tokens.
	vaultToken = regexp.MustCompile(`\bhv[sbr]\.[A-Za-z0-9_-]{20,}`)
	// jsonField matches a JSON field whose name ends in "token" or is
	// "jwt", as a logrus JSON formatter writes it.
	jsonField = regexp.MustCompile(`(?i)("[a-z_-]*token"|"jwt")(\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// textField matches a field whose name ends in "token" or is "jwt", as
	// a logrus text formatter (key=value) or pfxlog (key=[value]) writes it.
	textField = regexp.MustCompile(`(?i)\b([a-z_-]*token|jwt)=(\[[^\]]*\]|"(?:[^"\\]|\\.)*"|[^\s,}]+)`)
)

// Line returns line with every token it holds replaced by [Redacted]: JWTs
// and Vault tokens wherever they appear, and the value of every field
// named like a token (token, sessionToken, jwt, ...).
func Line(line []byte) []byte {
	line = jsonField.ReplaceAll(line, []byte(`$1$2"`+Redacted+`"`))
	line = textField.ReplaceAll(line, []byte(`$1=`+Redacted))
	line = jwt.ReplaceAll(line, []byte(Redacted))
	return vaultToken.ReplaceAll(line, []byte(Redacted))
}

// maxLine bounds the bytes a Writer holds while waiting for the end of a
// line; a longer line is redacted and passed on in pieces of this size.
const maxLine = 64 << 10

// Writer passes what is written to it on to another writer line by line,
// each line redacted with [Line]. It is safe for concurrent use. Close it
// to pass on a last line that has no newline.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes redacted lines to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write buffers p and passes on every complete line. It reports len(p)
// written unless the underlying writer fails.
func (r *Writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if len(r.buf) < maxLine {
				return len(p), nil
			}
			i = maxLine - 1
		}
		line := Line(r.buf[:i+1])
		r.buf = r.buf[i+1:]
		if _, err := r.w.Write(line); err != nil {
			return len(p), err
		}
	}
}

// Close passes on what is left of the last line, redacted. It does not
// close the underlying writer.
func (r *Writer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	_, err := r.w.Write(Line(r.buf))
	r.buf = nil
	return err
}
