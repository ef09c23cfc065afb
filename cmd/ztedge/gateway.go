package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/ztedge/ztedge/gateway"
)

const gatewayUsage = `usage: ztedge gateway render|run -config GATEWAY.yaml

  render  print the NGINX configuration for the gateway
  run     write it to the state folder, check it with "nginx -t", run nginx
          until interrupted (needs nginx: apt-get install nginx, and a running
          proxy-auth)

The YAML file has the fields of gateway.Config: listen, services (name: upstream
URL), authURL, certFile, keyFile, upstreamCAFile, stateDir, pingPath, user, nginx.
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
	p, err := gateway.Start(ctx, *cfg, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Gateway on https://%s (nginx pid %d); configuration %s, logs in %s.\n",
		p.Addr, p.PID, p.Config.ConfigFile(), p.Config.ErrorLog())
	if p.Config.GeneratedCertificate() {
		fmt.Fprintf(stdout, "Self-signed certificate: %s (curl --cacert %s ...)\n", p.Config.CertFile, p.Config.CertFile)
	}
	select {
	case <-ctx.Done():
		return p.Stop()
	case <-p.Done():
		return errors.Join(errors.New("nginx exited unexpectedly; see "+p.Config.ErrorLog()), p.Err())
	}
}
