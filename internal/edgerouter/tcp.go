package edgerouter

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RecommendedTCPRetries is the net.ipv4.tcp_retries2 that docs/deployment.md
// recommends for ztedge hosts: unacknowledged data fails a TCP connection
// after about 12 s, so that a router's stalled links and control channel
// are redialled during a network fault rather than long after it (Ziti 1.6
// closes neither on missed heartbeats).
const RecommendedTCPRetries = 5

// tcpRetriesFile is where Linux shows net.ipv4.tcp_retries2.
const tcpRetriesFile = "/proc/sys/net/ipv4/tcp_retries2"

// TCPRetriesNote returns a note for the operator when this host's
// net.ipv4.tcp_retries2 is above [RecommendedTCPRetries], and "" when it
// is not or cannot be read.
func TCPRetriesNote() string {
	b, err := os.ReadFile(tcpRetriesFile)
	if err != nil {
		return ""
	}
	return tcpRetriesNote(string(b))
}

func tcpRetriesNote(value string) string {
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n <= RecommendedTCPRetries {
		return ""
	}
	return fmt.Sprintf("note: net.ipv4.tcp_retries2 is %d on this host: after a cut link or an unreachable controller, "+
		"this router's connections stay stalled for tens of seconds after the network is back; "+
		"set it to %d (docs/deployment.md, \"TCP on ztedge hosts\")", n, RecommendedTCPRetries)
}
