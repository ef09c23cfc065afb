// Command proxy-auth answers NGINX auth_request subrequests for the ztedge
// gateway: GET /auth is 200 with the caller's name in X-Ztedge-Caller when
// the request's "Authorization: Bearer <jwt>" is a valid Vault-issued JWT
// for one of the accepted audiences, and 401 with a WWW-Authenticate
// challenge otherwise. GET /api/v3/ping answers 200.
//
// The issuer and the keys (JWKS) are discovered from Vault's OpenID
// configuration at start; proxy-auth refuses to start (exit status 1) when
// Vault cannot be reached or an option is missing.
//
// Usage:
//
//	proxy-auth -vault http://127.0.0.1:8200 [-listen 127.0.0.1:59842] [-audience edgex]
//	           [-introspect (-vault-credentials FILE | -vault-token-file FILE)] [-vault-ca FILE]
//
// Every flag has an environment variable: ZTEDGE_PROXY_AUTH_LISTEN,
// VAULT_ADDR, ZTEDGE_AUDIENCE (comma-separated), ZTEDGE_INTROSPECT=true,
// ZTEDGE_VAULT_CREDENTIALS, VAULT_CACERT, and VAULT_TOKEN for the token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/gateway"
	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/internal/yesno"
	"github.com/ztedge/ztedge/jwtauth"
)

// DefaultListen is proxy-auth's default address: loopback only, since
// only the local NGINX should ask it.
const DefaultListen = "127.0.0.1:59842"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "proxy-auth: %v\n", err)
		os.Exit(1)
	}
}

// options are proxy-auth's settings.
type options struct {
	listen, vault, audiences, credentials, tokenFile, caFile, logLevel string
	introspect                                                         bool
	cacheTTL                                                           time.Duration
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run starts proxy-auth and serves until ctx ends. ready, when not nil,
// receives the listening address once it accepts requests.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("proxy-auth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	introspect, envErr := yesno.Env("ZTEDGE_INTROSPECT", false)
	fs.StringVar(&o.listen, "listen", envOr("ZTEDGE_PROXY_AUTH_LISTEN", DefaultListen), "address to listen on (env ZTEDGE_PROXY_AUTH_LISTEN)")
	fs.StringVar(&o.vault, "vault", os.Getenv("VAULT_ADDR"), "Vault address; the issuer and keys are discovered from it (env VAULT_ADDR)")
	fs.StringVar(&o.audiences, "audience", envOr("ZTEDGE_AUDIENCE", "edgex"), "accepted JWT audiences, comma-separated (env ZTEDGE_AUDIENCE)")
	fs.BoolVar(&o.introspect, "introspect", introspect, "also ask Vault's introspection endpoint about each new token (env ZTEDGE_INTROSPECT)")
	fs.StringVar(&o.credentials, "vault-credentials", os.Getenv("ZTEDGE_VAULT_CREDENTIALS"), "with -introspect: AppRole credentials file written by ztedge provision (env ZTEDGE_VAULT_CREDENTIALS)")
	fs.StringVar(&o.tokenFile, "vault-token-file", "", "with -introspect: file with a Vault token allowed to introspect (default env VAULT_TOKEN)")
	fs.StringVar(&o.caFile, "vault-ca", os.Getenv("VAULT_CACERT"), "PEM CA of Vault's TLS certificate (env VAULT_CACERT)")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 30*time.Second, "how long a verified token is remembered (never past its exp); with -introspect, how long a token Vault has since revoked may still pass")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: proxy-auth -vault URL [flags]")
		fmt.Fprintln(fs.Output(), "Answers NGINX auth_request subrequests (GET /auth) with 200 or 401 for Vault-issued JWTs.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if envErr != nil && !flagSet(fs, "introspect") {
		return envErr
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", o.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	verifier, err := newVerifier(ctx, &o, logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %w", o.listen, err)
	}
	if tcp, ok := l.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		logger.Warn("proxy-auth listens beyond loopback: only the gateway should reach it", "listen", l.Addr().String())
	}
	srv := &http.Server{
		Handler:           gateway.NewAuthHandler(verifier, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Info("proxy-auth listening", "listen", l.Addr().String(), "vault", o.vault, "introspect", o.introspect)
	if ready != nil {
		ready <- l.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("proxy-auth stopped")
	return nil
}

// newVerifier checks the options, discovers the issuer and keys from
// Vault, and builds the verifier (with Vault introspection when asked).
func newVerifier(ctx context.Context, o *options, logger *slog.Logger) (*jwtauth.Verifier, error) {
	var problems []error
	if strings.TrimSpace(o.vault) == "" {
		problems = append(problems, errors.New("no Vault address: set -vault or VAULT_ADDR"))
	}
	var audiences []string
	for _, a := range strings.Split(o.audiences, ",") {
		if a = strings.TrimSpace(a); a != "" {
			audiences = append(audiences, a)
		}
	}
	if len(audiences) == 0 {
		problems = append(problems, errors.New("no audience: set -audience or ZTEDGE_AUDIENCE (e.g. edgex)"))
	}
	if o.cacheTTL < 0 {
		problems = append(problems, fmt.Errorf("-cache-ttl %s must not be negative", o.cacheTTL))
	}
	if o.listen == "" {
		problems = append(problems, errors.New("no listen address: set -listen"))
	}
	if o.introspect && o.credentials != "" && o.tokenFile != "" {
		problems = append(problems, errors.New("-vault-credentials and -vault-token-file exclude each other"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	vaultAddr := strings.TrimRight(strings.TrimSpace(o.vault), "/")

	if err := vault.CheckAddress(vaultAddr); err != nil {
		return nil, fmt.Errorf("-vault: %w", err)
	}
	vault.WarnPlainHTTP(logger, vaultAddr, "keys and introspected tokens", "use https and -vault-ca")
	client, err := vault.HTTPClient(vault.Config{Address: vaultAddr, CAFile: o.caFile})
	if err != nil {
		return nil, fmt.Errorf("-vault-ca: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	issuer, keysURL, err := jwtauth.Discover(dctx, vaultAddr, client)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Vault at %s: %w", vaultAddr, err)
	}
	opts := jwtauth.Options{
		Issuer:     issuer,
		Audiences:  audiences,
		KeysURL:    keysURL,
		HTTPClient: client,
		Logger:     logger,
		CacheTTL:   o.cacheTTL,
	}
	if o.introspect {
		in, err := newIntrospector(dctx, o, vaultAddr, logger)
		if err != nil {
			return nil, err
		}
		opts.Mode = jwtauth.Both
		opts.Introspector = in
	}
	v, err := jwtauth.NewVerifier(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot use Vault's keys at %s: %w", keysURL, err)
	}
	logger.Info("verifying Vault-issued JWTs", "issuer", issuer, "keys", keysURL, "audiences", audiences)
	return v, nil
}

// newIntrospector returns a Vault introspector logged in with the AppRole
// credentials file, or using the token from -vault-token-file/VAULT_TOKEN.
func newIntrospector(ctx context.Context, o *options, vaultAddr string, logger *slog.Logger) (*jwtauth.VaultIntrospector, error) {
	if o.credentials != "" {
		src, err := idtoken.New(o.credentials, idtoken.Options{Address: vaultAddr, CAFile: o.caFile, Logger: logger})
		if err != nil {
			return nil, err
		}
		return src.Introspector(ctx)
	}
	token := strings.TrimSpace(os.Getenv("VAULT_TOKEN"))
	if o.tokenFile != "" {
		b, err := configfile.Read(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-vault-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, errors.New("-introspect needs Vault credentials: -vault-credentials FILE (from ztedge provision), -vault-token-file FILE or VAULT_TOKEN")
	}
	c, err := vault.NewClient(vault.Config{Address: vaultAddr, CAFile: o.caFile})
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return nil, fmt.Errorf("vault at %s did not accept the token for introspection: %w", vaultAddr, vault.Sanitize(err))
	}
	in := jwtauth.NewVaultIntrospector(c)
	in.Logger = logger
	return in, nil
}
