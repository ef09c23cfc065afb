package testprog

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/naming"
)

func clientProgram(args []string) int {
	if len(args) < 2 {
		fmt.Println("usage: client IDENTITY +SVC|-SVC...")
		return 2
	}
	cfg, err := ziti.NewConfigFromFile(args[0])
	if err != nil {
		fmt.Println("load identity:", err)
		return 1
	}
	cfg.CtrlProxy = ctrlca.NoProxy
	zctx, err := ziti.NewContext(cfg)
	if err != nil {
		fmt.Println("ziti context:", err)
		return 1
	}
	defer zctx.Close()
	client := func(svc string) *http.Client {
		return &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				return zctx.Dial(naming.ZitiService(svc))
			},
		}}
	}
	try := func(svc string) string {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return get(ctx, client(svc), "http://"+naming.InterceptHost(svc)+"/whoami")
	}
	for _, a := range args[1:] {
		if len(a) < 2 || (a[0] != '+' && a[0] != '-') {
			fmt.Printf("bad argument %q: want +SVC or -SVC\n", a)
			return 2
		}
		svc := a[1:]
		if a[0] == '+' {
			var out string
			for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
				out = try(svc)
				if !strings.HasPrefix(out, "error") || time.Now().After(deadline) {
					break
				}
				fmt.Printf("reach %s (retrying): %s\n", svc, out)
			}
			fmt.Printf("reach %s: %s\n", svc, out)
			continue
		}
		outcome := "refused"
		var last string
		for range 3 {
			last = try(svc)
			if !strings.HasPrefix(last, "error") {
				outcome = "reached"
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		fmt.Printf("reach %s: %s (%s)\n", svc, outcome, last)
	}
	fmt.Println("client done")
	return 0
}
