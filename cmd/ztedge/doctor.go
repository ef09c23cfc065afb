package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ztedge/ztedge/internal/doctor"
	"github.com/ztedge/ztedge/provisioning"
)

const doctorUsage = `usage: ztedge doctor [-f TOPOLOGY.yaml] [-c CONFIG.yaml] [-o text|json] [SERVICE [PEER]]

Checks, link by link, what a service needs to serve and to reach a peer, and
stops at the first broken link with what is wrong and how to fix it:
configuration, credentials file, Vault, the JWT, the controller and its CA,
the JWT signer and the identity, authentication, Bind policy, edge routers,
the bind itself and, for a pair, the Dial policy and the dial rule behind it.

  ztedge doctor -f topology.yaml core-data                  # as provisioned
  ztedge doctor -f topology.yaml core-data core-metadata    # may core-data reach core-metadata?
  ztedge doctor -c core-data/configuration.yaml             # as the service reads its configuration
  ztedge doctor -c core-data/configuration.yaml -f topology.yaml core-metadata

The controller-side checks log in with the topology's administrator (or
ZITI_USER and ZITI_PWD). -f defaults to $ZTEDGE_TOPOLOGY. Exit status 1 when
a link is broken.
`

// errBroken is returned when the doctor found a broken link; the report
// already says what it is.
var errBroken = errors.New("a link is broken (see above)")

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", os.Getenv("ZTEDGE_TOPOLOGY"), "topology file (default $ZTEDGE_TOPOLOGY)")
	config := fs.String("c", "", "the service's configuration file, read as the service reads it")
	output := fs.String("o", "text", "output: text or json")
	fs.Usage = func() { fmt.Fprint(fs.Output(), doctorUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{"doctor: " + err.Error()}
	}
	opts := doctor.Options{ConfigFile: *config, TopologyFile: *file}
	rest := fs.Args()
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			return usageError{fmt.Sprintf("doctor: flags go before the service names (got %q after them)", a)}
		}
	}
	switch {
	case *output != "text" && *output != "json":
		return usageError{fmt.Sprintf("doctor: -o %q: want text or json", *output)}
	case *config != "" && len(rest) > 1:
		return usageError{"doctor: with -c, name at most the peer"}
	case *config != "" && len(rest) == 1:
		opts.Peer = rest[0]
	case *config == "" && (len(rest) == 0 || len(rest) > 2):
		return usageError{"doctor: name a service (and optionally its peer), or give the service's configuration with -c"}
	case *config == "":
		opts.Service = rest[0]
		if len(rest) == 2 {
			opts.Peer = rest[1]
		}
		if *file == "" {
			return usageError{"doctor: -f TOPOLOGY.yaml (or $ZTEDGE_TOPOLOGY) is needed to check a service by name"}
		}
	}
	if *file != "" {
		top, err := provisioning.LoadFile(*file)
		if err != nil {
			return err
		}
		opts.Topology = top
	}
	// The Ziti SDK logs each session certificate and router connection
	// through logrus at info level: not part of the report.
	logrus.SetLevel(logrus.WarnLevel)
	rep := doctor.Run(ctx, opts)
	if err := writeReport(stdout, *output, rep); err != nil {
		return err
	}
	if rep.Failure() != nil {
		return errBroken
	}
	return nil
}
