package testprog

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/internal/testhosts"
)

func scanProgram(args []string) int {
	if len(args) != 1 {
		fmt.Println("usage: scan IP")
		return 2
	}
	ip, err := netip.ParseAddr(args[0])
	if err != nil {
		fmt.Println(err)
		return 2
	}
	start := time.Now()
	for _, p := range testhosts.ScanTCP(ip) {
		fmt.Println("open", p)
	}
	fmt.Printf("scan of %s done: 65535 ports in %s\n", ip, time.Since(start).Round(time.Millisecond))
	return 0
}

// ScanDone is in the line the scan program prints when it has finished.
const ScanDone = "done: 65535 ports"

var openLine = regexp.MustCompile(`(?m)^open (\d+)$`)

// OpenPorts reads the open ports, ascending, from the log of a scan.
func OpenPorts(logPath string) ([]int, error) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	var ports []int
	for _, m := range openLine.FindAllStringSubmatch(string(data), -1) {
		n, _ := strconv.Atoi(m[1])
		ports = append(ports, n)
	}
	slices.Sort(ports)
	return ports, nil
}
