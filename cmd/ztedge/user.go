package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ztedge/ztedge/provisioning"
)

const userUsage = `usage: ztedge user add|remove NAME [flags]

  add     create (or reset) a human user in Vault: a userpass login at the
          ztedge-userpass mount and an OIDC role NAME whose JWTs the gateway
          accepts; the new password is written to a 0600 file
  remove  delete that user's login, OIDC role, entity and policy

Vault is taken from -f TOPOLOGY.yaml (address, token file, OIDC key, audience),
else from -vault / VAULT_ADDR and -vault-token-file / VAULT_TOKEN.
`

// userOptions are the flags of "ztedge user".
type userOptions struct {
	topology, vaultAddr, tokenFile, caFile, passwordFile string
	opts                                                 provisioning.UserOptions
	ttlSet                                               bool // -ttl was given
}

// runUser implements "ztedge user add|remove NAME".
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{`"user" needs a subcommand: add or remove`}
	}
	verb := args[0]
	switch verb {
	case "add", "remove":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, userUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown user subcommand %q (want add or remove)", verb)}
	}
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o userOptions
	fs.StringVar(&o.topology, "f", "", "topology file to take Vault's address, token file, OIDC key and audience from")
	fs.StringVar(&o.vaultAddr, "vault", os.Getenv("VAULT_ADDR"), "Vault address (env VAULT_ADDR)")
	fs.StringVar(&o.tokenFile, "vault-token-file", "", "file holding a Vault token allowed to manage auth, policies and identity (default: env VAULT_TOKEN)")
	fs.StringVar(&o.caFile, "vault-ca", os.Getenv("VAULT_CACERT"), "PEM CA of Vault's TLS certificate (env VAULT_CACERT)")
	fs.StringVar(&o.opts.Mount, "mount", provisioning.DefaultUserMount, "userpass auth mount for users")
	fs.StringVar(&o.opts.Key, "key", "", "OIDC key that signs the user's JWTs (default: the topology's, else "+provisioning.DefaultUserKey+")")
	fs.StringVar(&o.opts.Audience, "audience", "", "aud of the user's JWTs (default: the topology's, else "+provisioning.DefaultUserAudience+")")
	fs.DurationVar(&o.opts.TTL, "ttl", provisioning.DefaultUserTTL, "lifetime of the user's JWTs (default: the topology's jwt.ttl, else 1h)")
	if verb == "add" {
		fs.StringVar(&o.passwordFile, "password-file", "", "where to write the password (default ~/.local/state/ztedge/users/NAME.password)")
	}
	fs.Usage = func() { fmt.Fprint(fs.Output(), userUsage); fs.PrintDefaults() }
	// Accept the name before or after the flags.
	var name string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if fs.NArg() > 1 {
			return usageError{fmt.Sprintf("user %s: unexpected arguments: %q", verb, fs.Args()[1:])}
		}
	} else if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("user %s: unexpected arguments: %q", verb, fs.Args())}
	}
	if name == "" {
		return usageError{"user " + verb + ": give the user's NAME"}
	}
	if err := provisioning.ValidateUserName(name); err != nil {
		return err
	}

	fs.Visit(func(f *flag.Flag) { o.ttlSet = o.ttlSet || f.Name == "ttl" })
	vc, err := o.vaultConfig()
	if err != nil {
		return err // before any login with the administrator's token
	}
	var pf *provisioning.PasswordFile
	if verb == "add" {
		// The new password goes to a temporary file beside its destination
		// before Vault is contacted: a destination that cannot be written
		// fails here, with the user's old password still working.
		path := o.passwordFile
		if path == "" {
			if path, err = defaultPasswordFile(name); err != nil {
				return err
			}
		}
		if pf, err = provisioning.StagePasswordFile(path); err != nil {
			return err
		}
		defer pf.Discard()
	}
	users, addr, err := o.users(ctx, vc)
	if err != nil {
		return err
	}
	if verb == "remove" {
		if err := users.Remove(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed user %s (login, OIDC role, entity and policy) from Vault at %s.\n", name, addr)
		return nil
	}

	u, err := users.AddWithPasswordFile(ctx, name, pf)
	if err != nil {
		return err
	}
	printUserHelp(stdout, addr, pf.Path, u)
	return nil
}

// vaultSettings are where Vault is and how to log in to it.
type vaultSettings struct{ addr, tokenFile, caFile string }

// vaultConfig reads the topology, when given, and checks the options,
// without contacting Vault.
func (o *userOptions) vaultConfig() (vaultSettings, error) {
	v := vaultSettings{o.vaultAddr, o.tokenFile, o.caFile}
	if o.topology != "" {
		t, err := provisioning.LoadFile(o.topology)
		if err != nil {
			return v, err
		}
		v.addr, v.caFile = t.Vault.Address, t.Vault.CACert
		if v.tokenFile == "" {
			v.tokenFile = t.Vault.TokenFile
		}
		if o.opts.Key == "" {
			o.opts.Key = t.Vault.Key
		}
		if o.opts.Audience == "" {
			o.opts.Audience = t.JWT.Audience
		}
		if !o.ttlSet {
			o.opts.TTL = time.Duration(t.JWT.TTL)
		}
	}
	return v, o.opts.Validate()
}

// users builds the Vault client and user manager from v and the flags.
func (o *userOptions) users(ctx context.Context, v vaultSettings) (*provisioning.Users, string, error) {
	token, source, err := provisioning.VaultToken(v.tokenFile)
	if err != nil {
		return nil, "", err
	}
	c, err := provisioning.NewVaultClient(ctx, v.addr, token, source, v.caFile)
	if err != nil {
		return nil, "", err
	}
	u, err := provisioning.NewUsers(c, o.opts)
	return u, c.Address(), err
}

// defaultPasswordFile is ${XDG_STATE_HOME:-~/.local/state}/ztedge/users/NAME.password.
func defaultPasswordFile(name string) (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home folder for the password file (give -password-file): %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "ztedge", "users", name+".password"), nil
}

// printUserHelp tells where the password is and how to get a JWT with it,
// without printing the password.
func printUserHelp(w io.Writer, addr, path string, u *provisioning.User) {
	fmt.Fprintf(w, "Added user %s in Vault at %s (entity %s).\n", u.Name, addr, u.EntityID)
	fmt.Fprintf(w, "Password written to %s (mode 0600); it is not shown here.\n\n", path)
	fmt.Fprintf(w, "To get a JWT (valid for the user's OIDC role ttl) for the gateway, with curl and jq:\n\n")
	fmt.Fprintf(w, "  VAULT_ADDR=%s\n", addr)
	fmt.Fprintf(w, "  USER_TOKEN=$(jq -n --rawfile p %s '{password: ($p | rtrimstr(\"\\n\"))}' \\\n", shellQuote(path))
	fmt.Fprintf(w, "    | curl -sf --data @- \"$VAULT_ADDR/v1/%s\" | jq -r .auth.client_token)\n", u.LoginPath)
	fmt.Fprintf(w, "  JWT=$(curl -sf -H \"X-Vault-Token: $USER_TOKEN\" \"$VAULT_ADDR/v1/%s\" | jq -r .data.token)\n", u.TokenPath)
	fmt.Fprintf(w, "  curl --cacert GATEWAY_CERT -H \"Authorization: Bearer $JWT\" https://127.0.0.1:8443/core-data/api/v3/...\n")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
