package tunnel

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"time"
)

// closeWriter is a connection that can end its sending half alone
// (*net.TCPConn, the SDK's edge.Conn).
type closeWriter interface{ CloseWrite() error }

// Pipe copies both ways between a and b until both directions have ended
// or one fails, then closes both. An orderly end of one direction (EOF)
// is passed on as a half-close, so request-then-EOF protocols work.
func Pipe(a, b net.Conn) {
	errc := make(chan error, 2)
	half := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err == nil {
			if cw, ok := dst.(closeWriter); ok {
				err = cw.CloseWrite()
			} else {
				err = io.EOF // cannot half-close: end the whole connection
			}
		}
		errc <- err
	}
	go half(a, b)
	go half(b, a)
	if err := <-errc; err != nil {
		a.Close()
		b.Close()
	}
	<-errc
	a.Close()
	b.Close()
}

const (
	// refusePeek bounds how long a refused connection is read for a
	// request line to answer.
	refusePeek = time.Second
	// maxRequestLine bounds what is read of it.
	maxRequestLine = 4096
)

// requestLine matches the first line of an HTTP/1 request.
var requestLine = regexp.MustCompile(`^[A-Z]{3,10} [^\s]+ HTTP/1\.[01]\r?\n`)

// refuse ends a local connection whose service could not be dialled. If
// the client sent an HTTP/1 request line (curl, Postman, a browser), it
// first answers with a short HTTP response that says why: 403 when the
// identity may not dial the service, 502 otherwise. Any other protocol is
// just closed.
func refuse(c net.Conn, cause error) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(refusePeek))
	buf := make([]byte, 0, maxRequestLine)
	for len(buf) < cap(buf) && !bytes.Contains(buf, []byte("\n")) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	if !requestLine.Match(buf) {
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(refusePeek))
	_, _ = c.Write(refusal(cause))
	if tc, ok := c.(closeWriter); ok {
		// Let the client read the answer before the close resets the
		// connection over the unread rest of its request.
		_ = tc.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(refusePeek))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
}

// refusal is the HTTP response that answers a failed dial.
func refusal(cause error) []byte {
	code := status(cause)
	body := "ztedge tunnel: " + cause.Error() + "\n"
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	return b.Bytes()
}
