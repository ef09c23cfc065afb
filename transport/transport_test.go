package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func routeTo(t *testing.T, srv *httptest.Server, name string) Route {
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	port, _ := strconv.Atoi(u.Port())
	return Route{Name: name, Host: u.Hostname(), Port: port}
}

func TestRoutesRefuseConflictsAndMissingOverlay(t *testing.T) {
	_, err := New([]Route{{Name: "a", Host: "core-data.edgex.ziti", Port: 80, Overlay: true}}, nil)
	assert.ErrorContains(t, err, "no overlay")
	_, err = New([]Route{{Name: "a", Host: "x", Port: 80}, {Name: "b", Host: "X", Port: 80, Overlay: true}},
		func(context.Context, string, string) (net.Conn, error) { return nil, nil })
	assert.ErrorContains(t, err, "both over the overlay and over TCP")
	_, err = New([]Route{{Name: "a", Host: "x", Port: 0}}, nil)
	assert.ErrorContains(t, err, "peer a")
}

func TestDialContextFollowsTheRoutes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	var overlayDials atomic.Int64
	overlay := func(ctx context.Context, network, addr string) (net.Conn, error) {
		overlayDials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, l.Addr().String())
	}
	tr, err := New([]Route{
		{Name: "plain", Host: "127.0.0.1", Port: port},
		{Name: "redis", Host: "redis.edgex.ziti", Port: 6379, Overlay: true},
	}, overlay)
	require.NoError(t, err)
	ctx := context.Background()
	c, err := tr.DialContext(ctx, "tcp", l.Addr().String())
	require.NoError(t, err)
	c.Close()
	assert.Zero(t, overlayDials.Load())
	c, err = tr.DialContext(ctx, "tcp", "REDIS.edgex.ziti:6379")
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, int64(1), overlayDials.Load())
	_, err = tr.DialContext(ctx, "tcp", "127.0.0.1:1")
	assert.ErrorIs(t, err, ErrUnknownHost)
	_, err = tr.DialContext(ctx, "udp", l.Addr().String())
	assert.ErrorContains(t, err, "not supported")
}

func TestRedirectsStayOnThePeer(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	var hops atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case r.URL.Path == "/loop":
			hops.Add(1)
			http.Redirect(w, r, "/loop", http.StatusFound)
		case r.URL.Path == "/here":
			http.Redirect(w, r, "/there", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "arrived at "+r.URL.Path+" with "+r.Header.Get("Authorization"))
		}
	}))
	defer peer.Close()
	tr, err := New([]Route{routeTo(t, peer, "peer"), routeTo(t, other, "other")}, nil)
	require.NoError(t, err)
	client := &http.Client{Transport: tr, CheckRedirect: CheckRedirect}
	get := func(path string) (*http.Response, string, error) {
		req, _ := http.NewRequest(http.MethodPost, peer.URL+path, strings.NewReader("secret body"))
		req.Header.Set("Authorization", "Bearer service-jwt")
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	resp, body, err := get("/here")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "arrived at /there with Bearer service-jwt", body)

	resp, _, err = get("/away")
	require.NoError(t, err)
	assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "a redirect to another host is handed back, not followed")
	assert.Zero(t, elsewhere.Load(), "nothing was sent to the other host")

	_, _, err = get("/loop")
	assert.ErrorIs(t, err, ErrTooManyRedirects)
	assert.Equal(t, int64(MaxRedirects), hops.Load())
}
