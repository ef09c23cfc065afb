// Command core-data is an example ztedge data service, shaped like EdgeX's
// core-data: it stores readings and records which identity sent each one.
// In Mode=zerotrust it has no API port on the host: it binds the Ziti
// service edgex.core-data and answers ping on a separate underlay port. In
// plain (token-based) mode it listens on its TCP port and requires a
// Vault-issued JWT on every route but ping.
//
//	core-data -config examples/core-data/configuration.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ztedge/ztedge/zerotrust"
)

func main() {
	config := flag.String("config", "examples/core-data/configuration.yaml", "configuration file")
	writers := flag.String("writers", "device-virtual", "comma-separated identities allowed to post readings")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, strings.Split(*writers, ","), log); err != nil {
		fmt.Fprintln(os.Stderr, "core-data:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, configFile string, writers []string, log *slog.Logger) error {
	cfg, err := zerotrust.LoadConfig(configFile)
	if err != nil {
		return err
	}
	svc, err := zerotrust.New(ctx, cfg, zerotrust.Options{Logger: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	return svc.Serve(ctx, newRouter(&store{limit: 1000}, writers))
}
