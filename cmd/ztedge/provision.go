package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/ztedge/ztedge/provisioning"
)

const provisionUsage = `usage: ztedge provision plan|apply|destroy|graph -f TOPOLOGY.yaml

  plan     print what apply would create, update and delete
  apply    create, update and delete objects until Vault and the controller match the file
  destroy  delete everything ztedge created (objects made by hand are kept)
  graph    draw who may dial whom (Mermaid, Graphviz DOT or SVG); see "provision graph -h"
`

// runProvision implements "ztedge provision plan|apply|destroy -f FILE".
func runProvision(ctx context.Context, args []string) error {
	return provision(ctx, os.Stdout, args)
}

func provision(ctx context.Context, out io.Writer, args []string) error {
	if len(args) == 0 {
		return usageError{"provision: no action given (plan, apply or destroy)"}
	}
	verb := args[0]
	if verb == "graph" {
		return runGraph(ctx, args[1:], out, os.Stderr)
	}
	fs := flag.NewFlagSet("provision "+verb, flag.ContinueOnError)
	file := fs.String("f", "", "topology file (YAML)")
	verbose := fs.Bool("v", false, "log progress details")
	fs.Usage = func() { fmt.Fprint(fs.Output(), provisionUsage); fs.PrintDefaults() }
	switch verb {
	case "plan", "apply", "destroy":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stderr, provisionUsage)
		return flag.ErrHelp
	default:
		return usageError{fmt.Sprintf("provision: unknown action %q (use plan, apply or destroy)", verb)}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{"provision: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("provision %s: unexpected arguments %q (flags go before them; one topology file, with -f)", verb, fs.Args())}
	}
	if *file == "" {
		return usageError{"provision: -f TOPOLOGY.yaml is required"}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	t, err := provisioning.LoadFile(*file)
	if err != nil {
		return err
	}
	p, err := provisioning.New(ctx, t, logger)
	if err != nil {
		return err
	}
	return runProvisionVerb(ctx, out, p, verb)
}

func runProvisionVerb(ctx context.Context, out io.Writer, p *provisioning.Provisioner, verb string) error {
	progress := func(c provisioning.Change) { fmt.Fprintf(out, "  %s\n", c) }
	switch verb {
	case "plan":
		plan, err := p.Plan(ctx)
		if err != nil {
			return err
		}
		_, err = plan.WriteTo(out)
		return err
	case "apply":
		fmt.Fprintln(out, "Applying topology:")
		plan, err := p.Apply(ctx, progress)
		if err != nil {
			return err
		}
		if plan.Empty() {
			fmt.Fprintln(out, "No changes: Vault and the controller already match the topology.")
		} else {
			fmt.Fprintf(out, "Applied: %s.\n", plan.Summary())
		}
		return nil
	default:
		fmt.Fprintln(out, "Destroying what ztedge created:")
		plan, err := p.Destroy(ctx, progress)
		if err != nil {
			return err
		}
		if plan.Empty() {
			fmt.Fprintln(out, "Nothing to destroy.")
		} else {
			fmt.Fprintf(out, "Destroyed: %d objects.\n", plan.Count(provisioning.OpDelete))
		}
		return nil
	}
}
