package tunnel

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseForward(t *testing.T) {
	for arg, want := range map[string]Forward{
		"core-data=18080":                    {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:18080")},
		"core-data=127.0.0.1:18080":          {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:18080")},
		"core-data=localhost:18080":          {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:18080")},
		"core-data=:18080":                   {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:18080")},
		"edgex.core-data=[::1]:18080":        {Name: "edgex.core-data", Listen: netip.MustParseAddrPort("[::1]:18080")},
		"core-data=0":                        {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:0")},
		"core-data=0.0.0.0:18080":            {Name: "core-data", Listen: netip.MustParseAddrPort("0.0.0.0:18080")},
		"My Legacy.Service=18080":            {}, // spaces: refused below
		"core-data=[::ffff:127.0.0.1]:18080": {Name: "core-data", Listen: netip.MustParseAddrPort("127.0.0.1:18080")},
	} {
		got, err := ParseForward(arg)
		if want.Name == "" {
			assert.Error(t, err, arg)
			continue
		}
		require.NoError(t, err, arg)
		assert.Equal(t, want, got, arg)
	}
	for arg, msg := range map[string]string{
		"core-data":                 "want SERVICE=[ADDRESS:]PORT",
		"=18080":                    "no service name",
		"core-data=":                "no port given",
		"core-data=65536":           "not a number from 0 to 65535",
		"core-data=example.com:80":  "not an IP address",
		"core-data=::1:18080":       "put an IPv6 address in brackets",
		`a"b=18080`:                 "quote",
		"core-data=127.0.0.1":       "port \"127.0.0.1\" is not a number",
		"edgex.=18080":              "names no service",
		"core-data=[fe80::1%lo]:80": "zones are not supported",
	} {
		_, err := ParseForward(arg)
		require.Error(t, err, arg)
		assert.Contains(t, err.Error(), msg, arg)
		assert.Contains(t, err.Error(), "tunnel: ", arg)
	}
}

func TestNamesResolveToDialableServices(t *testing.T) {
	f := standardFake(t)
	tn, log := startFake(t, f, Options{Forwards: []Forward{
		{Name: "core-data", Listen: loopback0},
		{Name: "edgex.core-data", Listen: loopback0},
		{Name: "legacy", Listen: loopback0},
		{Name: "device-virtual", Listen: loopback0},
		{Name: "core-dta", Listen: loopback0},
	}})
	r := tn.Routes()
	require.Len(t, r, 5)
	assert.Equal(t, []string{"edgex.core-data", "edgex.core-data", "legacy", "edgex.device-virtual", "edgex.core-dta"},
		[]string{r[0].Service, r[1].Service, r[2].Service, r[3].Service, r[4].Service})
	assert.Equal(t, []bool{true, true, true, false, false}, []bool{r[0].Dialable, r[1].Dialable, r[2].Dialable, r[3].Dialable, r[4].Dialable})
	assert.Contains(t, log.String(), `warning: identity "operator" may not dial the ziti service "edgex.device-virtual": its policies let it host (bind) the service, not dial it; connections to`)
	assert.Contains(t, log.String(), `may not dial the ziti service "edgex.core-dta": the controller lists no such service for it`)
	assert.Equal(t, "operator", tn.Identity())
	for _, x := range r {
		assert.True(t, x.Addr.Addr().IsLoopback())
		assert.NotZero(t, x.Addr.Port())
	}
}

func TestNonLoopbackAddressesAreRefusedUnlessAllowed(t *testing.T) {
	for _, a := range []string{"0.0.0.0:0", "[::]:0", "198.18.0.1:18080", "10.0.0.1:0"} {
		asked := false
		_, err := open(t.Context(), Options{Forwards: []Forward{{Name: "core-data", Listen: netip.MustParseAddrPort(a)}}, Log: &syncBuffer{}},
			func(context.Context, func(string, ...any)) (overlay, error) { asked = true; return nil, nil })
		require.Error(t, err, a)
		assert.Contains(t, err.Error(), "is not a loopback address", a)
		assert.Contains(t, err.Error(), "-allow-non-loopback", a)
		assert.False(t, asked, "%s: the controller must not be asked before the addresses are checked", a)

		_, err = open(t.Context(), Options{HTTP: netip.MustParseAddrPort(a), Log: &syncBuffer{}},
			func(context.Context, func(string, ...any)) (overlay, error) { asked = true; return nil, nil })
		require.Error(t, err, a)
		assert.Contains(t, err.Error(), "is not a loopback address", a)
	}

	t.Run("allowed explicitly, with a warning", func(t *testing.T) {
		tn, log := startFake(t, standardFake(t), Options{AllowNonLoopback: true,
			Forwards: []Forward{{Name: "core-data", Listen: netip.MustParseAddrPort("0.0.0.0:0")}}})
		assert.True(t, tn.Routes()[0].Addr.Addr().IsUnspecified())
		assert.Contains(t, log.String(), "WARNING: 0.0.0.0:")
		assert.Contains(t, log.String(), `is reachable from other hosts: whoever connects to it acts as identity "operator"`)
	})
}

func TestOptionsNeedAListenerAndDistinctAddresses(t *testing.T) {
	noOverlay := func(context.Context, func(string, ...any)) (overlay, error) { return nil, nil }
	_, err := open(t.Context(), Options{Log: &syncBuffer{}}, noOverlay)
	require.ErrorContains(t, err, "nothing to listen on")
	a := netip.MustParseAddrPort("127.0.0.1:18080")
	_, err = open(t.Context(), Options{Forwards: []Forward{{Name: "a", Listen: a}}, HTTP: a, Log: &syncBuffer{}}, noOverlay)
	require.ErrorContains(t, err, "127.0.0.1:18080 is given twice")
	_, err = open(t.Context(), Options{Forwards: []Forward{{Name: "", Listen: a}}, Log: &syncBuffer{}}, noOverlay)
	require.ErrorContains(t, err, `tunnel: forward to "": no service name`)
	_, err = open(t.Context(), Options{Forwards: []Forward{{Name: "core-data"}}, Log: &syncBuffer{}}, noOverlay)
	require.ErrorContains(t, err, `tunnel: forward to "core-data" has no address to listen on`)
}

func TestPortInUseIsReportedBeforeConnecting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	asked := false
	_, err = open(t.Context(), Options{Log: &syncBuffer{},
		Forwards: []Forward{{Name: "core-data", Listen: loopback0}, {Name: "core-metadata", Listen: addrOf(busy)}}},
		func(context.Context, func(string, ...any)) (overlay, error) { asked = true; return nil, nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tunnel: listening on "+addrOf(busy).String()+" for core-metadata")
	assert.False(t, asked)
}
