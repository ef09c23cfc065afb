//go:build linux

package multihost_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/edge"
)

// The test binary doubles as the SDK programs run inside the hosts (the
// SDK opens its own connections, so it must run in the host's namespace
// as a whole process):
//
//	MULTIHOST_SDK=host IDENTITY SERVICE   binds SERVICE, answers each caller
//	MULTIHOST_SDK=dial IDENTITY SERVICE   dials SERVICE, prints the answer,
//	                                      holds the connection until stdin closes
func sdkHelper(mode string, args []string) int {
	if len(args) != 2 {
		fmt.Println("usage: IDENTITY SERVICE")
		return 2
	}
	file, service := args[0], args[1]
	zctx, err := ziti.NewContextFromFile(file)
	if err != nil {
		fmt.Println("load identity:", err)
		return 1
	}
	defer zctx.Close()
	switch mode {
	case "host":
		return hostService(zctx, service)
	case "dial":
		return dialService(zctx, service)
	}
	fmt.Println("unknown mode", mode)
	return 2
}

func hostService(zctx ziti.Context, service string) int {
	l, err := zctx.Listen(service)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	me, _ := zctx.GetCurrentIdentity()
	name := ""
	if me != nil && me.Name != nil {
		name = *me.Name
	}
	fmt.Println("listening on", service, "as", name)
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Println("accept:", err)
			return 1
		}
		go func() {
			defer c.Close()
			caller := ""
			if ec, ok := c.(edge.Conn); ok {
				caller = ec.SourceIdentifier()
			}
			fmt.Printf("caller=%s\n", caller)
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				fmt.Println("read:", err)
				return
			}
			fmt.Fprintf(c, "hello %s, %s here; you said %s", caller, name, line)
			_, _ = io.Copy(io.Discard, c) // until the caller hangs up: the circuit stays
		}()
	}
}

func dialService(zctx ziti.Context, service string) int {
	start := time.Now()
	var c edge.Conn
	var err error
	// Right after enrollment the service or a router may not be known to
	// the SDK yet: retry for a while.
	for deadline := start.Add(90 * time.Second); ; {
		if c, err = zctx.Dial(service); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("dial:", err)
			return 1
		}
		fmt.Println("dial (retrying):", err)
		time.Sleep(500 * time.Millisecond)
	}
	defer c.Close()
	fmt.Println("dialed after", time.Since(start).Round(time.Millisecond))
	if _, err := fmt.Fprintln(c, "ping"); err != nil {
		fmt.Println("write:", err)
		return 1
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		return 1
	}
	fmt.Printf("reply after %s: %s\n", time.Since(start).Round(time.Millisecond), strings.TrimSpace(reply))
	_, _ = io.Copy(io.Discard, os.Stdin) // hold the circuit open for the test's checks
	return 0
}
