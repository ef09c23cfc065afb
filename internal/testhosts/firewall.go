//go:build linux

package testhosts

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// block is one rule of a host's firewall: drop what src sends to port (0:
// everything src sends).
type block struct {
	src  string // IP address
	port int
}

// BlockFrom makes h drop, silently, the TCP packets that src sends to
// port on h (port 0: every packet src sends to h). Connections being made
// time out and open ones stall, as behind a firewall that drops. It uses
// nftables inside h's namespace, so it needs nft (apt-get install
// nftables); the rules go with the namespace.
func (h *Host) BlockFrom(src *Host, port int) error {
	return h.setBlock(block{src.IP.String(), port}, true)
}

// UnblockFrom removes a rule made by BlockFrom.
func (h *Host) UnblockFrom(src *Host, port int) error {
	return h.setBlock(block{src.IP.String(), port}, false)
}

func (h *Host) setBlock(b block, on bool) error {
	if b.port < 0 || b.port > 65535 {
		return fmt.Errorf("testhosts: port %d out of range", b.port)
	}
	h.fwMu.Lock()
	defer h.fwMu.Unlock()
	next := slices.DeleteFunc(slices.Clone(h.blocks), func(x block) bool { return x == b })
	if on {
		next = append(next, b)
	}
	if err := h.applyFirewall(next); err != nil {
		return err
	}
	h.blocks = next
	return nil
}

// applyFirewall replaces the host's table with one holding rules, in one
// atomic nft transaction.
func (h *Host) applyFirewall(rules []block) error {
	if _, err := os.Stat(nftBin); err != nil {
		return fmt.Errorf("testhosts: firewall rules need nft: apt-get install nftables (%w)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := h.Command(ctx, nftBin, "-f", "-")
	cmd.Stdin = strings.NewReader(firewallScript(rules))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testhosts: nft on %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// firewallScript is an nft script that replaces table inet testhosts with
// one dropping what rules say.
func firewallScript(rules []block) string {
	var b strings.Builder
	// Declaring the table first makes the delete succeed if it is missing.
	b.WriteString("table inet testhosts {}\ndelete table inet testhosts\n")
	b.WriteString("table inet testhosts {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n")
	for _, r := range rules {
		if r.port == 0 {
			fmt.Fprintf(&b, "\t\tip saddr %s drop\n", r.src)
		} else {
			fmt.Fprintf(&b, "\t\tip saddr %s tcp dport %d drop\n", r.src, r.port)
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}
