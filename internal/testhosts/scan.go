//go:build linux

package testhosts

import (
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"
)

// scanConcurrency and scanTimeout bound ScanTCP: closed ports answer with a
// reset at once on the test network; a port that does not answer within
// the timeout counts as closed.
const (
	scanConcurrency = 256
	scanTimeout     = 2 * time.Second
)

// ScanTCP connects to every TCP port of ip and returns, in order, those
// that accept. It dials from the calling process's own network namespace,
// so a test runs it in a helper process started on a host (Host.Start).
func ScanTCP(ip netip.Addr) []int {
	ports := make(chan int)
	var mu sync.Mutex
	var open []int
	var wg sync.WaitGroup
	for range scanConcurrency {
		wg.Go(func() {
			for p := range ports {
				c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(p)), scanTimeout)
				if err != nil {
					continue
				}
				c.Close()
				mu.Lock()
				open = append(open, p)
				mu.Unlock()
			}
		})
	}
	for p := 1; p <= 65535; p++ {
		ports <- p
	}
	close(ports)
	wg.Wait()
	sort.Ints(open)
	return open
}
