package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/tunnel"
)

const tunnelUsage = `usage: ztedge tunnel -i IDENTITY.json [flags] SERVICE=[ADDRESS:]PORT ...

Puts curl, Postman and other programs that do not speak Ziti on the overlay
as the client identity in IDENTITY.json (an enrolled identity, as "ztedge
provision apply" writes to <output>/clients/<name>.json). Each
SERVICE=[ADDRESS:]PORT forwards a local port to a Ziti service; -http serves
an HTTP proxy that reaches every service by its intercept name.

SERVICE is a ztedge service ("core-data" is the Ziti service
"edgex.core-data") or a full Ziti service name. ADDRESS defaults to
127.0.0.1. Whoever can connect to these ports acts as the identity, with no
credential of their own: an address other than loopback is refused unless
-allow-non-loopback is given.

Examples:
  ztedge tunnel -i operator.json core-data=18080 core-metadata=18081
  curl http://127.0.0.1:18080/api/v3/ping

  ztedge tunnel -i operator.json -http 18099
  curl -x http://127.0.0.1:18099 http://core-data.edgex.ziti/api/v3/ping

It runs until interrupted (Ctrl-C). Refused and failed connections, and
reconnections to the controller and edge routers, are reported on stderr.

Flags:
`

// tunnelFlags are the flags of "ztedge tunnel".
type tunnelFlags struct {
	identity    string
	http        string
	allowRemote bool
	dialTimeout time.Duration
}

// runTunnel implements "ztedge tunnel".
func runTunnel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tunnel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f tunnelFlags
	fs.StringVar(&f.identity, "i", "", "enrolled Ziti identity file (JSON) of the client, such as <output>/clients/operator.json")
	fs.StringVar(&f.identity, "identity", "", "same as -i")
	fs.StringVar(&f.http, "http", "", "serve an HTTP proxy for http://<service>."+naming.InterceptDomain+" on [ADDRESS:]PORT")
	fs.BoolVar(&f.allowRemote, "allow-non-loopback", false, "allow addresses other hosts can reach (anyone reaching them acts as the identity)")
	fs.DurationVar(&f.dialTimeout, "dial-timeout", 15*time.Second, "how long a connection to a service may take")
	fs.Usage = func() { fmt.Fprint(fs.Output(), tunnelUsage); fs.PrintDefaults() }
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	o, err := tunnelOptions(f, positional)
	if err != nil {
		return err
	}
	o.Log = stderr
	t, err := tunnel.Open(ctx, f.identity, o)
	if err != nil {
		return err
	}
	printTunnel(stdout, t, f.identity)
	err = t.Serve(ctx)
	fmt.Fprintln(stdout, "Tunnel closed.")
	return err
}

// tunnelOptions checks the flags and forwards into tunnel options.
func tunnelOptions(f tunnelFlags, positional []string) (tunnel.Options, error) {
	var o tunnel.Options
	if f.identity == "" {
		return o, usageError{"tunnel: -i IDENTITY.json is required (the enrolled identity file of a client, such as <output>/clients/operator.json)"}
	}
	if f.dialTimeout <= 0 {
		return o, usageError{"tunnel: -dial-timeout must be positive"}
	}
	for _, arg := range positional {
		fw, err := tunnel.ParseForward(arg)
		if err != nil {
			return o, usageError{err.Error()}
		}
		o.Forwards = append(o.Forwards, fw)
	}
	if f.http != "" {
		a, err := tunnel.ParseListenAddr(f.http)
		if err != nil {
			return o, usageError{"tunnel: -http: " + err.Error()}
		}
		o.HTTP = a
	}
	if len(o.Forwards) == 0 && !o.HTTP.IsValid() {
		return o, usageError{"tunnel: nothing to forward: give SERVICE=[ADDRESS:]PORT arguments, -http [ADDRESS:]PORT, or both"}
	}
	o.AllowNonLoopback = f.allowRemote
	o.DialTimeout = f.dialTimeout
	return o, nil
}

// parseInterleaved parses flags given before, between or after the
// positional arguments, and returns those.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{fs.Name() + ": " + err.Error()}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// printTunnel says what the tunnel forwards, with a command to try each.
func printTunnel(w io.Writer, t *tunnel.Tunnel, identityFile string) {
	fmt.Fprintf(w, "Tunnel open as Ziti identity %q (%s):\n", t.Identity(), identityFile)
	loopback := true
	for _, r := range t.Routes() {
		note := "curl http://" + hostPort(r.Addr) + "/"
		if !r.Dialable {
			note = "refused until a Dial policy allows it"
		}
		fmt.Fprintf(w, "  %-22s -> %-24s %s\n", r.Addr, r.Service, note)
		loopback = loopback && r.Addr.Addr().IsLoopback()
	}
	if a, ok := t.HTTPAddr(); ok {
		fmt.Fprintf(w, "  %-22s HTTP proxy for http://<service>.%s   curl -x http://%s http://core-data.%s/api/v3/ping\n",
			a, naming.InterceptDomain, hostPort(a), naming.InterceptDomain)
		loopback = loopback && a.Addr().IsLoopback()
	}
	if loopback {
		fmt.Fprintln(w, "Listening on loopback only. Ctrl-C stops the tunnel.")
	} else {
		fmt.Fprintln(w, "Listening on addresses OTHER HOSTS CAN REACH (-allow-non-loopback). Ctrl-C stops the tunnel.")
	}
}

// hostPort is how a URL names a listening address.
func hostPort(a netip.AddrPort) string {
	if a.Addr().IsUnspecified() {
		return "localhost:" + strconv.Itoa(int(a.Port()))
	}
	return a.String()
}
