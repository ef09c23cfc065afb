// Command ztedge puts EdgeX-style HTTP microservices on an OpenZiti
// zero-trust overlay, with HashiCorp Vault as the identity provider.
//
// Usage:
//
//	ztedge tools build [-tool ziti|vault|all]
//	ztedge stack up|down|status [flags]
//	ztedge provision plan|apply|destroy|graph -f TOPOLOGY.yaml
//	ztedge doctor [-f TOPOLOGY.yaml] [-c CONFIG.yaml] [SERVICE [PEER]]
//	ztedge status -f TOPOLOGY.yaml [-o json]
//	ztedge router join NAME [-f TOPOLOGY.yaml] [flags]
//	ztedge gateway render|run -config GATEWAY.yaml
//	ztedge user add|remove NAME
//	ztedge edgex token-file|env ...
//	ztedge up [-once]
//	ztedge tunnel -i IDENTITY.json [-http [ADDRESS:]PORT] SERVICE=[ADDRESS:]PORT ...
//	ztedge forward -config CONFIG.yaml PEER=[ADDRESS:]PORT ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/toolchain"
)

const usageText = `usage: ztedge <command> [arguments]

Commands:
  tools build [-tool NAME]   build the pinned ziti and vault binaries into the cache
  stack up [flags]           start a local Vault (TLS) and Ziti quickstart network
  stack down [flags]         stop the local stack started by "stack up"
  stack status [flags]       show whether the local stack is up
  provision ...              plan, apply or destroy a topology in Vault and on the controller; graph draws it
  doctor [SERVICE [PEER]]    check link by link why a service cannot serve or reach its peer
  status -f TOPOLOGY         what is live now: services bound, identities, routers, JWT signer and key
  router join NAME ...       set up, enroll (once) and run an edge router of the topology on this node
  up ...                     the demo: tools, stack, provisioning, example services in zerotrust mode
  gateway render|run ...     render or run the NGINX gateway (token-based and zerotrust services)
  user add|remove NAME       add or remove a human user in Vault, for gateway JWTs
  tunnel -i ID.json SVC=PORT forward loopback ports (or an HTTP proxy) to Ziti services, for curl and Postman
  forward -config C PEER=PORT act as a service and forward loopback ports to its zerotrust peers (e.g. a dependency)
  edgex token-file|env ...   EdgeX 4 services: write (and keep valid) their Vault token file, print their environment

Run "ztedge <command> -h" for a command's flags.
`

// usageError marks an error caused by bad command-line usage (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err (if any) and maps it to the process exit code.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ztedge: %v\n\n%s", err, usageText)
		return 2
	default:
		fmt.Fprintf(stderr, "ztedge: %v\n", err)
		return 1
	}
}

// run dispatches a command line (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "tools":
		if len(args) < 2 || args[1] != "build" {
			return usageError{`"tools" needs a subcommand: tools build`}
		}
		return runToolsBuild(ctx, args[2:], stdout, stderr)
	case "stack":
		if len(args) < 2 {
			return usageError{`"stack" needs a subcommand: up, down or status`}
		}
		switch args[1] {
		case "up":
			return runStackUp(ctx, args[2:], stdout, stderr)
		case "down":
			return runStackDown(ctx, args[2:], stdout, stderr)
		case "status":
			return runStackStatus(ctx, args[2:], stdout, stderr)
		default:
			return usageError{fmt.Sprintf("unknown stack subcommand %q (want up, down or status)", args[1])}
		}
	case "provision":
		if len(args) > 1 && args[1] == "graph" {
			return runGraph(ctx, args[2:], stdout, stderr)
		}
		return runProvision(ctx, args[1:])
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "router":
		return runRouter(ctx, args[1:], stdout, stderr)
	case "up":
		return runUp(ctx, args[1:])
	case "gateway":
		return runGateway(ctx, args[1:], stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], stdout, stderr)
	case "tunnel":
		return runTunnel(ctx, args[1:], stdout, stderr)
	case "forward":
		return runForward(ctx, args[1:], stdout, stderr)
	case "edgex":
		return runEdgeX(ctx, args[1:], stdout, stderr)
	default:
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

// parseFlags parses args with fs, turning parse errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected arguments: %q", fs.Name(), fs.Args())}
	}
	return nil
}

func runToolsBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tools build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("tool", "all", "tool to build: ziti, vault or all")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ztedge tools build [-tool ziti|vault|all]")
		fmt.Fprintln(fs.Output(), "Builds the pinned tools into the cache ($ZTEDGE_TOOLS_DIR or ~/.cache/ztedge/tools).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "all" {
		paths, err := toolchain.EnsureAll(ctx, stderr)
		if err != nil {
			return fmt.Errorf("tools build: %w", err)
		}
		fmt.Fprintf(stdout, "ziti:  %s\nvault: %s\n", paths.Ziti, paths.Vault)
		return nil
	}
	tool, err := toolchain.Lookup(*name)
	if err != nil {
		return usageError{"tools build: " + err.Error()}
	}
	path, err := toolchain.Ensure(ctx, tool, stderr)
	if err != nil {
		return fmt.Errorf("tools build: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s\n", tool.Name, path)
	return nil
}

// stackFlags registers the flags shared by the stack subcommands on fs,
// with defaults from the environment, and returns the config they fill.
func stackFlags(fs *flag.FlagSet, withPorts bool) *stack.Config {
	cfg := stack.ConfigFromEnv()
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory for the stack's state, secrets and logs (env ZTEDGE_STATE_DIR)")
	if withPorts {
		fs.IntVar(&cfg.VaultPort, "vault-port", cfg.VaultPort, "Vault port on 127.0.0.1; port+1 is its cluster port (env ZTEDGE_VAULT_PORT)")
		fs.IntVar(&cfg.ControllerPort, "ctrl-port", cfg.ControllerPort, "Ziti controller port on 127.0.0.1 (env ZTEDGE_CTRL_PORT)")
		fs.IntVar(&cfg.RouterPort, "router-port", cfg.RouterPort, "Ziti edge router port (env ZTEDGE_ROUTER_PORT)")
		vaultTLSFlag(fs, cfg.SetVaultTLS)
	}
	return &cfg
}

// vaultTLSFlag registers -vault-tls on fs, calling set with its value when
// it is given; without it, ZTEDGE_VAULT_TLS decides (default on).
func vaultTLSFlag(fs *flag.FlagSet, set func(on bool)) {
	fs.BoolFunc("vault-tls", "run Vault with TLS (generated CA) and file storage, the default; -vault-tls=false runs the in-memory dev server over plain HTTP on loopback (env ZTEDGE_VAULT_TLS=0)",
		func(v string) error {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			set(on)
			return nil
		})
}

func runStackUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stack up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := stackFlags(fs, true)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ztedge stack up [flags]")
		fmt.Fprintln(fs.Output(), "Starts Vault (TLS, file storage) and a Ziti quickstart network on loopback, in the background.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = stderr
	st, err := stack.Up(ctx, *cfg)
	if err != nil {
		return err
	}
	printState(stdout, st)
	fmt.Fprintf(stdout, "\nFor a shell:  source %s\n", st.EnvFile())
	fmt.Fprintf(stdout, "To stop it:   ztedge stack down -state-dir %s\n", st.StateDir)
	return nil
}

func runStackDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stack down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := stackFlags(fs, false)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ztedge stack down [flags]")
		fmt.Fprintln(fs.Output(), "Stops the processes that \"ztedge stack up\" started.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = stderr
	return stack.Down(ctx, *cfg)
}

func runStackStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stack status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := stackFlags(fs, false)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ztedge stack status [flags]")
		fmt.Fprintln(fs.Output(), "Reports whether Vault, the Ziti controller and the router are up. Exits 1 unless all are.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = stderr
	st, health, err := stack.Status(ctx, *cfg)
	if err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintf(stdout, "stack is not up (no state in %s)\n", cfg.StateDir)
		return errors.New("stack is down")
	}
	fmt.Fprintf(stdout, "vault:      %s\n", health.Vault)
	fmt.Fprintf(stdout, "controller: %s\n", health.Controller)
	fmt.Fprintf(stdout, "router:     %s\n", health.Router)
	fmt.Fprintln(stdout)
	printState(stdout, st)
	if !health.Healthy() {
		return errors.New("stack is not healthy")
	}
	return nil
}

// printState prints the addresses and secret file locations (never the
// secrets themselves).
func printState(w io.Writer, st *stack.State) {
	fmt.Fprintf(w, "Vault:            %s (pid %d)\n", st.VaultAddress, st.VaultPID)
	fmt.Fprintf(w, "  root token in:  %s\n", st.VaultTokenFile)
	if st.VaultCAFile != "" {
		fmt.Fprintf(w, "  TLS CA:         %s (file storage; unseal key and root token in vault-init.json beside it)\n", st.VaultCAFile)
	}
	fmt.Fprintf(w, "Ziti controller:  %s (pid %d)\n", st.ControllerURL, st.ZitiPID)
	fmt.Fprintf(w, "  admin user:     %s\n", st.ZitiUsername)
	fmt.Fprintf(w, "  password in:    %s\n", st.ZitiPasswordFile)
	fmt.Fprintf(w, "  CA bundle:      %s\n", st.ZitiCAFile)
	fmt.Fprintf(w, "Ziti router:      %s\n", st.RouterAddress)
	fmt.Fprintf(w, "Logs:             %s, %s\n", st.VaultLogFile(), st.ZitiLogFile())
}
