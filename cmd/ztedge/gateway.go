package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/gateway/overlay"
)

const gatewayUsage = `usage: ztedge gateway render|run -config GATEWAY.yaml

  render  print the NGINX configuration for the gateway
  run     open the overlay forwarder for zerotrust services (loopback ports,
          as the gateway's Ziti identity), write the configuration to the
          state folder, check it with "nginx -t", run nginx until interrupted
          (needs nginx: apt-get install nginx, and a running proxy-auth)

The YAML file has the fields of gateway.Config: listen, services (name: upstream
URL, or zerotrust:<service> for a service in zerotrust mode), zitiIdentity (the
gateway's enrolled Ziti identity file, for zerotrust services), authURL,
certFile, keyFile, upstreamCAFile, stateDir, pingPath, user, nginx.
See docs/modes.md.
`

// runGateway implements "ztedge gateway render|run -config FILE".
func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{`"gateway" needs a subcommand: render or run`}
	}
	verb := args[0]
	switch verb {
	case "render", "run":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, gatewayUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown gateway subcommand %q (want render or run)", verb)}
	}
	fs := flag.NewFlagSet("gateway "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "gateway configuration file (YAML)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), gatewayUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" {
		return usageError{"gateway " + verb + ": -config GATEWAY.yaml is required"}
	}
	cfg, err := gateway.LoadConfig(*file)
	if err != nil {
		return err
	}
	if verb == "render" {
		out, err := gateway.Render(*cfg)
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	g, err := overlay.Start(ctx, *cfg, logger)
	if err != nil {
		return err
	}
	printGateway(stdout, g)
	select {
	case <-ctx.Done():
		return g.Stop()
	case <-g.Done():
		err := g.Err()
		_ = g.Stop()
		return errors.Join(errors.New("the gateway stopped unexpectedly; see "+g.Config.ErrorLog()), err)
	}
}

// printGateway says where the gateway listens and where each zerotrust
// route goes.
func printGateway(w io.Writer, g *overlay.Gateway) {
	fmt.Fprintf(w, "Gateway on https://%s (nginx pid %d); configuration %s, logs in %s.\n",
		g.Addr, g.PID, g.Config.ConfigFile(), g.Config.ErrorLog())
	if g.Config.GeneratedCertificate() {
		fmt.Fprintf(w, "Self-signed certificate: %s (curl --cacert %s ...)\n", g.Config.CertFile, g.Config.CertFile)
	}
	if len(g.Routes) == 0 {
		return
	}
	fmt.Fprintf(w, "Zerotrust services, over the Ziti overlay as identity %q (%s), through loopback only:\n", g.Identity, g.Config.ZitiIdentity)
	width := 0
	for _, r := range g.Routes {
		width = max(width, len(r.Route)+2)
	}
	for _, r := range g.Routes {
		line := fmt.Sprintf("  %-*s -> %-15s -> %s", width, "/"+r.Route+"/", r.Addr, r.Service)
		if !r.Dialable {
			line += "   refused (403) until a Dial policy allows it"
		}
		fmt.Fprintln(w, line)
	}
}
