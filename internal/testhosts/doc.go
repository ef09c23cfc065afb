// Package testhosts builds several hosts on one Linux machine for a test:
// one network namespace per host, each joined by a veth pair to a bridge
// of its own, with an address in a /24 of 198.18.0.0/15 picked for the
// run. Programs run inside a host with Host.Command or Host.Start; the
// test process itself can open sockets in a host with Host.Dial and
// Host.Listen. Faults are a call away: Host.LinkDown cuts a host's cable,
// Host.BlockFrom drops one peer's packets.
//
// New removes everything again in t.Cleanup, also when the test fails or
// panics: processes (by process group, then whatever else is left in the
// namespaces), veths, the bridge and the namespaces. A run that dies
// without its cleanups (a test timeout, SIGKILL) is swept by the next New
// on the machine; processes started with Host.Start die with the test
// process anyway.
//
// It needs root and iproute2's ip; Host.BlockFrom also needs nftables' nft.
// Tests call stacktest.Integration first, so "go test -short" skips them.
package testhosts
