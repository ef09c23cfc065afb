package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/provisioning"
)

const statusUsage = `usage: ztedge status [-f TOPOLOGY.yaml] [-o text|json]

Shows what is live now, from the controller and Vault: each service bound or
not and on which edge router, identities authenticated, dependencies hosted
by their router's tunneler, edge routers online, the JWT signer and Vault's
signing key. -o json prints the stable shape
documented in docs/operations.md. Exit status 1 when there are problems.
-f defaults to $ZTEDGE_TOPOLOGY.
`

// errProblems is returned when the status lists problems.
var errProblems = errors.New("the network has problems (see above)")

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", os.Getenv("ZTEDGE_TOPOLOGY"), "topology file (default $ZTEDGE_TOPOLOGY)")
	output := fs.String("o", "text", "output: text or json")
	fs.Usage = func() { fmt.Fprint(fs.Output(), statusUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError{fmt.Sprintf("status: -o %q: want text or json", *output)}
	}
	if *file == "" {
		return usageError{"status: -f TOPOLOGY.yaml (or $ZTEDGE_TOPOLOGY) is required"}
	}
	top, err := provisioning.LoadFile(*file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := inspect.Collect(ctx, top, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	if err := writeReport(stdout, *output, st); err != nil {
		return err
	}
	if len(st.Problems) > 0 {
		return errProblems
	}
	return nil
}

// writeReport writes v as indented JSON (output "json") or as its text.
func writeReport(w io.Writer, output string, v io.WriterTo) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := v.WriteTo(w)
	return err
}
