package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/provisioning"
)

const graphUsage = `usage: ztedge provision graph -f TOPOLOGY.yaml [-format mermaid|dot|svg] [-routers] [-out FILE]

Draws the topology's services, clients, groups and dial rules: one arrow for
every identity a rule lets dial a service (groups expanded), one box per set
of groups; dependencies as cylinders on the router that hosts them, with an
arrow from each of their dialers. mermaid is for Markdown documents, dot for Graphviz; svg runs
Graphviz's dot (Debian: apt-get install graphviz). With -routers, the picture
asks the controller where each service is bound and boxes services by edge
router. Only -routers needs the topology's settings and a running controller.
`

func runGraph(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "topology file (YAML)")
	format := fs.String("format", "mermaid", "mermaid, dot or svg")
	routers := fs.Bool("routers", false, "box services by the edge router they are bound on (asks the controller)")
	out := fs.String("out", "", "write to this file instead of standard output")
	fs.Usage = func() { fmt.Fprint(fs.Output(), graphUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{"provision graph: -f TOPOLOGY.yaml is required"}
	}
	switch *format {
	case "mermaid", "dot", "svg":
	default:
		return usageError{fmt.Sprintf("provision graph: -format %q: want mermaid, dot or svg", *format)}
	}
	var top *provisioning.Topology
	var err error
	if *routers {
		top, err = provisioning.LoadFile(*file)
	} else {
		top, err = provisioning.LoadDeclarations(*file)
	}
	if err != nil {
		return err
	}
	g := top.Graph()
	if *routers {
		placement, err := boundRouters(ctx, top, stderr)
		if err != nil {
			return err
		}
		g.Place(placement)
	}
	var b bytes.Buffer
	switch *format {
	case "mermaid":
		err = g.WriteMermaid(&b)
	case "dot":
		err = g.WriteDOT(&b)
	case "svg":
		err = renderSVG(ctx, g, &b)
	}
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("provision graph: %w", err)
		}
		return nil
	}
	if _, err := stdout.Write(b.Bytes()); err != nil {
		return fmt.Errorf("provision graph: %w", err)
	}
	return nil
}

// boundRouters asks the controller which edge router each service is
// bound on.
func boundRouters(ctx context.Context, top *provisioning.Topology, stderr io.Writer) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	api, err := provisioning.ZitiManagement(ctx, top, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(top.Services))
	for i, s := range top.Services {
		names[i] = s.Name
	}
	return inspect.NewController(api).BoundRouters(ctx, names)
}

// renderSVG renders the DOT picture with Graphviz's dot.
func renderSVG(ctx context.Context, g *provisioning.Graph, w io.Writer) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return errors.New("provision graph: -format svg needs Graphviz's dot, which is not installed (Debian: apt-get install graphviz); -format dot or mermaid need nothing")
	}
	var in bytes.Buffer
	if err := g.WriteDOT(&in); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, dot, "-Tsvg")
	cmd.Stdin = &in
	cmd.Stdout = w
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("provision graph: dot -Tsvg: %v: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	return nil
}
