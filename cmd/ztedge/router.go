package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgerouter"
	"github.com/ztedge/ztedge/internal/logredact"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/toolchain"
	"github.com/ztedge/ztedge/provisioning"
)

const routerUsage = `usage: ztedge router join NAME [-f TOPOLOGY.yaml] [flags]

Sets up edge router NAME on this node: writes its configuration (every listener
bound to one address), enrolls it once with its one-time token, then runs
"ziti router run" in the foreground, or with -print prints that command line.
Running it again never enrolls the router again.

With -f the router's settings come from the topology's routers and its token
from <output>/routers/NAME.jwt (written by "ztedge provision apply"); flags
override them. Without -f give at least -jwt and -advertise.

Flags:
`

// routerFlags are the settings of "router join" that flags give.
type routerFlags struct {
	file, jwt, advertise, bind, controller, dir, ziti string
	port, linkPort                                    int
	tunneler, print                                   bool
}

// runRouter implements "ztedge router join".
func runRouter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "join" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, routerUsage)
			return flag.ErrHelp
		}
		return usageError{`"router" needs a subcommand: router join NAME`}
	}
	args = args[1:]
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	var f routerFlags
	fs := flag.NewFlagSet("router join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.file, "f", "", "topology file: the router's settings and token location")
	fs.StringVar(&f.jwt, "jwt", "", "the router's enrolment token file (default with -f: <output>/routers/NAME.jwt)")
	fs.StringVar(&f.advertise, "advertise", "", "host name or IP address that SDKs and routers dial")
	fs.StringVar(&f.bind, "bind", "", "IP address of this host the listeners bind to (default: the advertised address, or the address of this host it resolves to; give it when the advertised address is not this host's, behind NAT say)")
	fs.IntVar(&f.port, "port", provisioning.DefaultRouterPort, "edge listener port, for SDKs")
	fs.IntVar(&f.linkPort, "link-port", 0, "link listener port, for other routers (0: none; the router dials its links)")
	fs.BoolVar(&f.tunneler, "tunneler", false, "run the router's tunneler (host mode)")
	fs.StringVar(&f.controller, "controller", "", "the controller's control-plane address host:port (default: from the token)")
	fs.StringVar(&f.dir, "dir", "", "the router's folder: configuration, key, certificates (default ~/.local/state/ztedge/routers/NAME)")
	fs.StringVar(&f.ziti, "ziti", "", "the ziti binary (default: ziti on PATH, else the pinned build in the tools cache)")
	fs.BoolVar(&f.print, "print", false, "set up and enroll, then print the command that runs the router instead of running it")
	fs.Usage = func() { fmt.Fprint(fs.Output(), routerUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{"router join: " + err.Error()}
	}
	if name == "" && fs.NArg() > 0 { // flags, NAME, flags
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return usageError{"router join: " + err.Error()}
		}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("router join: unexpected arguments: %q", fs.Args())}
	}
	if !naming.ValidName(name) {
		return usageError{fmt.Sprintf("router join: %q is not a router name (%s)", name, naming.NameRule)}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return joinRouter(ctx, name, f, set, stdout, stderr)
}

// joinRouter resolves the router's settings, prepares it and runs it.
func joinRouter(ctx context.Context, name string, f routerFlags, set map[string]bool, stdout, stderr io.Writer) error {
	c := edgerouter.Config{Name: name, Dir: f.dir, Controller: f.controller, Advertise: f.advertise, Port: f.port, LinkPort: f.linkPort, Tunneler: f.tunneler}
	tokenFile := f.jwt
	if f.file != "" {
		t, err := provisioning.LoadFile(f.file)
		if err != nil {
			return err
		}
		r, ok := findRouter(t, name)
		if !ok {
			return fmt.Errorf("router join: %s declares no router %q under routers", f.file, name)
		}
		if !set["advertise"] {
			c.Advertise = r.Advertise
		}
		if !set["port"] {
			c.Port = r.Port
		}
		if !set["link-port"] {
			c.LinkPort = r.LinkPort
		}
		if !set["tunneler"] {
			c.Tunneler = r.Tunneler
		}
		if tokenFile == "" {
			tokenFile = credentials.RouterTokenPath(t.Output, name)
		}
	}
	if c.Advertise == "" {
		return usageError{"router join: -advertise is required without -f"}
	}
	if tokenFile == "" {
		return usageError{"router join: -jwt is required without -f"}
	}
	var err error
	if f.bind != "" {
		if c.Bind, err = netip.ParseAddr(f.bind); err != nil {
			return usageError{fmt.Sprintf("router join: -bind %q is not an IP address", f.bind)}
		}
	}
	if c.Dir, err = routerDir(c.Dir, name); err != nil {
		return err
	}
	token, err := readTokenIfPresent(tokenFile)
	if err != nil {
		return err
	}
	if c.Controller == "" && token != nil {
		if c.Controller, err = token.Controller(); err != nil {
			return fmt.Errorf("router join: %s: %w (give -controller)", tokenFile, err)
		}
	}
	if c.Controller == "" {
		c.Controller = edgerouter.WrittenController(c.Dir)
	}
	if c.Controller == "" {
		return fmt.Errorf("router join: the token file %s is missing and no controller is known: give -controller, or the token", tokenFile)
	}
	// Before enrolling, which spends the one-time token: the router must
	// be able to listen at its address.
	if f.bind == "" {
		if c.Bind, err = edgerouter.BindAddress(ctx, c.Advertise); err != nil {
			return err
		}
	} else if err := edgerouter.CheckLocal(c.Bind); err != nil {
		return err
	}
	zitiBin, err := zitiBinary(f.ziti)
	if err != nil {
		return err
	}
	if _, err := edgerouter.Prepare(ctx, c, zitiBin, token, stderr); err != nil {
		return err
	}
	if f.print {
		fmt.Fprintln(stdout, edgerouter.ShellQuote(c.RunArgs(zitiBin)))
		return nil
	}
	if note := edgerouter.TCPRetriesNote(); note != "" {
		fmt.Fprintln(stderr, "router join: "+note)
	}
	fmt.Fprintf(stderr, "running: %s\n", edgerouter.ShellQuote(c.RunArgs(zitiBin)))
	// The router logs the session tokens of the terminators it hosts and
	// the circuits it routes; its output is passed on without them.
	out, errOut := logredact.NewWriter(stdout), logredact.NewWriter(stderr)
	cmd := c.Command(ctx, zitiBin)
	cmd.Stdout, cmd.Stderr = out, errOut
	err = cmd.Run()
	_, _ = out.Close(), errOut.Close()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("router join: ziti router run: %w", err)
	}
	return nil
}

// findRouter returns the topology's router named name.
func findRouter(t *provisioning.Topology, name string) (provisioning.Router, bool) {
	for _, r := range t.Routers {
		if r.Name == name {
			return r, true
		}
	}
	return provisioning.Router{}, false
}

// readTokenIfPresent reads the token file, or returns nil when it does
// not exist (an enrolled router needs none).
func readTokenIfPresent(path string) (*edgerouter.Token, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return edgerouter.ReadToken(path)
}

// routerDir returns dir made absolute, or the default folder of router
// name: $XDG_STATE_HOME/ztedge/routers/NAME, else
// ~/.local/state/ztedge/routers/NAME.
func routerDir(dir, name string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("router join: no home folder for the router's files (give -dir): %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "ztedge", "routers", name), nil
}

// zitiBinary returns the ziti binary to use: the one given, else ziti on
// PATH, else the pinned build in the tools cache.
func zitiBinary(given string) (string, error) {
	if given != "" {
		return exec.LookPath(given)
	}
	if p, err := exec.LookPath("ziti"); err == nil {
		return p, nil
	}
	tool, err := toolchain.Lookup("ziti")
	if err == nil {
		if p, err := tool.BinaryPath(); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", errors.New("router join: no ziti binary: put ziti on PATH, give -ziti, or build the pinned one with \"ztedge tools build -tool ziti\"")
}
