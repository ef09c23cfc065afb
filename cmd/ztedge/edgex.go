package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/provisioning"
)

const edgexUsage = `usage: ztedge edgex token-file -credentials FILE -o PATH [-watch] [-vault-ca FILE]
       ztedge edgex env -f TOPOLOGY.yaml [-token-mode] NAME

  token-file  log in to Vault with a service's credentials (written by
              "ztedge provision apply") and write the token file an EdgeX 4
              service reads (SecretStore.TokenFile), mode 0600 in a 0700
              folder; a valid token already in the file is kept. With
              -watch it keeps running, renews the token before it expires
              and writes a new one when Vault no longer accepts it, so the
              service can always restart.
  env         print the environment EdgeX service NAME needs on the
              topology's network (zerotrust mode; -token-mode prints only
              the secret store settings), as NAME=value lines

See docs/edgex.md.
`

// runEdgeX implements "ztedge edgex token-file|env".
func runEdgeX(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{`"edgex" needs a subcommand: token-file or env`}
	}
	switch args[0] {
	case "token-file":
		return runEdgeXTokenFile(ctx, args[1:], stdout, stderr)
	case "env":
		return runEdgeXEnv(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, edgexUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown edgex subcommand %q (want token-file or env)", args[0])}
	}
}

func runEdgeXTokenFile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgex token-file", flag.ContinueOnError)
	fs.SetOutput(stderr)
	k := &edgextoken.Keeper{}
	fs.StringVar(&k.Credentials, "credentials", "", "the service's credentials file (<output>/services/NAME/credentials.json)")
	fs.StringVar(&k.Path, "o", "", "the token file to write, e.g. /tmp/edgex/secrets/NAME/secrets-token.json (EdgeX's default)")
	fs.StringVar(&k.VaultCA, "vault-ca", "", "PEM CA of Vault's TLS certificate")
	watch := fs.Bool("watch", false, "keep running: renew the token and replace it when Vault no longer accepts it")
	fs.DurationVar(&k.Interval, "interval", 0, "with -watch, how often to check the token (default: a quarter of its period, at most 1m)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), edgexUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if k.Credentials == "" || k.Path == "" {
		return usageError{"edgex token-file: -credentials FILE and -o PATH are required"}
	}
	if *watch {
		k.Logger = slog.New(slog.NewTextHandler(stderr, nil))
		fmt.Fprintf(stderr, "ztedge: keeping %s valid until stopped\n", k.Path)
		return k.Run(ctx)
	}
	if k.Interval != 0 {
		return usageError{"edgex token-file: -interval needs -watch"}
	}
	res, err := k.Ensure(ctx)
	if err != nil {
		return err
	}
	switch res.Action {
	case edgextoken.Written:
		fmt.Fprintf(stdout, "%s: new Vault token written (%s; ttl %s)\n", k.Path, res.Reason, res.TTL)
	case edgextoken.Renewed:
		fmt.Fprintf(stdout, "%s: token renewed (ttl %s)\n", k.Path, res.TTL)
	default:
		fmt.Fprintf(stdout, "%s: holds a valid token (ttl %s)\n", k.Path, res.TTL)
	}
	if res.Action == edgextoken.Written {
		fmt.Fprintf(stdout, "The token expires %s after its last renewal: run with -watch to keep it valid while the service is down.\n", res.Period)
	}
	return nil
}

func runEdgeXEnv(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgex env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "topology file (YAML)")
	tokenMode := fs.Bool("token-mode", false, "print only the secret store settings (EdgeX's token-based mode)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), edgexUsage); fs.PrintDefaults() }
	// Accept the name before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if name == "" && fs.NArg() > 0 {
		name, args = fs.Arg(0), fs.Args()[1:]
		if err := fs.Parse(args); err != nil {
			return usageError{err.Error()}
		}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("edgex env: unexpected arguments: %q", fs.Args())}
	}
	if name == "" || *file == "" {
		return usageError{"edgex env: -f TOPOLOGY.yaml and a service NAME are required"}
	}
	t, err := provisioning.LoadFile(*file)
	if err != nil {
		return err
	}
	env, err := t.EdgeXEnv(name)
	if *tokenMode {
		env, err = t.EdgeXSecretStoreEnv(name)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(provisioning.FormatEnv(env))
	return err
}
