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
	textField = regexp.MustCompile(`(?i)\b([a-z_-]*token|jwt)=(\[[^\]]*\]|"(?:[^"\\]|\\.)*"|[^\s,}"\]]+)`)
	// tokenInText matches a token named in a message rather than in a
	// field: "token [VALUE]" (the router's "no api session found for token
	// [...]") and "token: VALUE" with a value of 8 or more characters that
	// holds a digit (a UUID, an opaque session token; not a word).
	tokenInText = regexp.MustCompile(`(?i)\btoken(?:\s*:\s*|\s+)(\[[^\]]*\]|[A-Za-z0-9._~+/=-]{8,})`)
	hasDigit    = regexp.MustCompile(`[0-9]`)
)

// Line returns line with every token it holds replaced by [Redacted]: JWTs
// and Vault tokens wherever they appear, and the value of every field
// named like a token (token, sessionToken, jwt, ...).
func Line(line []byte) []byte {
	line = jsonField.ReplaceAll(line, []byte(`$1$2"`+Redacted+`"`))
	line = textField.ReplaceAll(line, []byte(`$1=`+Redacted))
	line = tokenInText.ReplaceAllFunc(line, func(m []byte) []byte {
		sub := tokenInText.FindSubmatchIndex(m)
		value := m[sub[2]:sub[3]]
		switch {
		case value[0] == '[':
			return append(m[:sub[2]:sub[2]], "["+Redacted+"]"...)
		case hasDigit.Match(value):
			return append(m[:sub[2]:sub[2]], Redacted...)
		}
		return m
	})
	line = jwt.ReplaceAll(line, []byte(Redacted))
	return vaultToken.ReplaceAll(line, []byte(Redacted))
}

// maxLine bounds the bytes a Writer holds while waiting for the end of a
// line. Of a longer line, the first maxLine bytes are passed on, redacted,
// followed by [Truncated]; the rest of the line is dropped, since a token
// could straddle any cut.
const maxLine = 64 << 10

// Truncated ends a line that was cut at maxLine.
const Truncated = " [line truncated]\n"

// Writer passes what is written to it on to another writer line by line,
// each line redacted with [Line]. It is safe for concurrent use. Close it
// to pass on a last line that has no newline.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	// dropping is true while the rest of a truncated line is dropped.
	dropping bool
}

// NewWriter returns a Writer that writes redacted lines to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write buffers p and passes on every complete line. It reports len(p)
// written unless the underlying writer fails.
func (r *Writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if r.dropping {
			if i < 0 {
				break // still the truncated line
			}
			r.dropping, p = false, p[i+1:]
			continue
		}
		if i < 0 {
			r.buf = append(r.buf, p...)
			if len(r.buf) > maxLine {
				r.dropping = true
				if err := r.pass(append(Line(r.buf[:maxLine]), Truncated...)); err != nil {
					return 0, err
				}
			}
			break
		}
		r.buf = append(r.buf, p[:i+1]...)
		p = p[i+1:]
		line := r.buf
		if len(line) > maxLine+1 {
			line = append(Line(line[:maxLine]), Truncated...)
		} else {
			line = Line(line)
		}
		if err := r.pass(line); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// pass writes a finished line to the underlying writer and empties the
// buffer.
func (r *Writer) pass(line []byte) error {
	r.buf = r.buf[:0]
	_, err := r.w.Write(line)
	return err
}

// Close passes on what is left of the last line, redacted. It does not
// close the underlying writer.
func (r *Writer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	return r.pass(Line(r.buf))
}
