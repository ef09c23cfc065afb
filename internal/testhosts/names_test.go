//go:build linux

package testhosts

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryRunHasItsOwnSubnetInTheBenchmarkRange(t *testing.T) {
	seen := map[netip.Prefix]run{}
	for r := range run(runs) {
		s := r.subnet()
		require.Equal(t, 24, s.Bits())
		require.True(t, benchmarkRange.Contains(s.Addr()), "run %d: %s", r, s)
		other, dup := seen[s]
		require.False(t, dup, "runs %d and %d share %s", other, r, s)
		seen[s] = r
		assert.True(t, s.Contains(r.hostIP(0)) && s.Contains(r.hostIP(MaxHosts-1)), "run %d: hosts outside %s", r, s)
	}
	assert.Equal(t, "198.18.0.0/24", run(0).subnet().String())
	assert.Equal(t, "198.19.255.0/24", run(runs-1).subnet().String())
	assert.Equal(t, "198.18.7.1", run(7).hostIP(0).String())
	assert.Equal(t, "198.18.7.254", run(7).hostIP(MaxHosts-1).String())
}

func TestLinkNamesFitLinuxLimit(t *testing.T) {
	const ifNameMax = 15 // IFNAMSIZ - 1
	for _, r := range []run{0, 0x1a7, runs - 1} {
		assert.LessOrEqual(t, len(r.bridge()), ifNameMax, r.bridge())
		assert.LessOrEqual(t, len(r.veth(MaxHosts-1)), ifNameMax, r.veth(MaxHosts-1))
	}
	r := run(0x1a7)
	assert.Equal(t, "zth1a7", r.bridge())
	assert.Equal(t, "zth1a7-3", r.veth(3))
	assert.Equal(t, "zth1a7-node-a", r.netns("node-a"))
}

func TestRunOfNamesThisPackageMakes(t *testing.T) {
	r := run(0x1a7)
	for _, name := range []string{r.bridge(), r.veth(0), r.veth(253), r.netns("hub"), r.netns("node-b")} {
		got, ok := runOf(name)
		assert.True(t, ok, name)
		assert.Equal(t, r, got, name)
	}
	for _, name := range []string{"", "zth", "zth1a", "zth1a7x", "zth200", "zthxyz-a", "eth0", "br-1a7", "zt1a7-a"} {
		_, ok := runOf(name)
		assert.False(t, ok, "%q is not ours", name)
	}
}

func TestHostNamesAreCheckedAllAtOnce(t *testing.T) {
	require.NoError(t, checkHostNames([]string{"hub", "node-a", "node-b", "laptop"}))
	err := checkHostNames([]string{"hub", "Node", "hub", "a/b", strings.Repeat("x", maxNameLen+1)})
	require.Error(t, err)
	for _, want := range []string{`host 1: name "Node"`, `host 2: name "hub" is given twice`, `host 3: name "a/b"`, "host 4:", "longer than 20"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.ErrorContains(t, checkHostNames(nil), "no hosts given")
	assert.ErrorContains(t, checkHostNames(make([]string, MaxHosts+1)), "at most 254")
}

func TestHostEnvironmentIsTheHosts(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://elsewhere")
	t.Setenv("ZITI_HOME", "/elsewhere")
	t.Setenv("XDG_CONFIG_HOME", "/elsewhere")
	t.Setenv("ZTEDGE_KEPT", "1")
	h := &Host{Home: "/t/hub/home", Tmp: "/t/hub/tmp"}
	env := h.Env()
	assert.Contains(t, env, "HOME=/t/hub/home")
	assert.Contains(t, env, "TMPDIR=/t/hub/tmp")
	assert.Contains(t, env, "ZTEDGE_KEPT=1")
	for _, kv := range env {
		for _, gone := range []string{"VAULT_", "ZITI_", "XDG_"} {
			assert.False(t, strings.HasPrefix(kv, gone), kv)
		}
	}
}

func TestFirewallScriptReplacesTheTable(t *testing.T) {
	got := firewallScript([]block{{"198.18.7.2", 1280}, {"198.18.7.3", 0}})
	assert.Equal(t, `table inet testhosts {}
delete table inet testhosts
table inet testhosts {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr 198.18.7.2 tcp dport 1280 drop
		ip saddr 198.18.7.3 drop
	}
}
`, got)
}

func TestDialRefusesNames(t *testing.T) {
	assert.NoError(t, checkIPAddress("198.18.7.2:80"))
	assert.NoError(t, checkIPAddress(":80"))
	assert.NoError(t, checkIPAddress("[::1]:80"))
	assert.ErrorContains(t, checkIPAddress("hub:80"), "must be an IP address")
	assert.Error(t, checkIPAddress("198.18.7.2"))
}
