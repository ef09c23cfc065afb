package stack

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	edgeapis "github.com/openziti/sdk-golang/edge-apis"

	"github.com/ztedge/ztedge/internal/filelock"
	"github.com/ztedge/ztedge/internal/toolchain"
)

const (
	// readyTimeout bounds each readiness wait (Vault, controller, router).
	readyTimeout = 120 * time.Second
	// stopGrace is how long a process gets between SIGTERM and SIGKILL.
	stopGrace = 10 * time.Second
	// zitiAdmin is the Ziti admin user name.
	zitiAdmin = "admin"

	// Arguments that identify our processes in /proc/<pid>/cmdline.
	vaultMarker = "server"
	zitiMarker  = "quickstart"

	// rootCAPath is where "ziti edge quickstart" keeps its root CA, relative
	// to its --home. The controller's TLS chain ends at this certificate.
	rootCAPath = "pki/root-ca/certs/root-ca.cert"
)

// Up starts the stack described by cfg and waits until Vault answers, the
// Ziti controller answers and an edge router is online. If the stack in
// cfg.StateDir is already up and healthy, Up returns its state and starts
// nothing. A stack that is only partly up is stopped and started afresh.
//
// Every new stack gets a fresh random Vault root token and Ziti admin
// password, a fresh Ziti home and a fresh Vault (its file storage, or the
// dev server's memory). The
// processes are started with throwaway credentials (Vault logs its dev root
// token; the quickstart takes its password only on the command line), which
// Up replaces through the APIs and revokes, so neither the process list,
// the process environments nor the logs hold a live secret.
func Up(ctx context.Context, cfg Config) (*State, error) {
	if cfg.envErr != nil {
		return nil, fmt.Errorf("stack: %w", cfg.envErr)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.validatePorts(); err != nil {
		return nil, err
	}
	if err := ensureStateDir(cfg.StateDir); err != nil {
		return nil, err
	}
	unlock, err := lockState(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer unlock()

	prev, err := loadState(cfg.StateDir)
	switch {
	case err == nil:
		h := check(ctx, prev)
		if h.Healthy() {
			fmt.Fprintf(cfg.Progress, "[stack] already up (vault pid %d, ziti pid %d)\n", prev.VaultPID, prev.ZitiPID)
			if want := vaultScheme(cfg) + "://127.0.0.1:" + strconv.Itoa(cfg.VaultPort); prev.VaultAddress != want ||
				prev.ControllerURL != "https://127.0.0.1:"+strconv.Itoa(cfg.ControllerPort) ||
				prev.RouterAddress != "127.0.0.1:"+strconv.Itoa(cfg.RouterPort) {
				fmt.Fprintf(cfg.Progress, "[stack] note: the running stack keeps its addresses (%s, %s, %s); run \"stack down\" first to change them or to switch between Vault with TLS and the dev server (-vault-tls=false)\n",
					prev.VaultAddress, prev.ControllerURL, prev.RouterAddress)
			}
			return prev, nil
		}
		if !h.Vault.Up && h.Controller.Up && h.Router.Up {
			// A TLS Vault that was restarted comes back sealed.
			if unsealed, err := unsealVault(ctx, prev); err == nil && unsealed {
				fmt.Fprintf(cfg.Progress, "[stack] vault (pid %d) was sealed: unsealed it with the key in %s\n", prev.VaultPID, cfg.StateDir)
				if h = check(ctx, prev); h.Healthy() {
					return prev, nil
				}
			}
		}
		fmt.Fprintf(cfg.Progress, "[stack] the stack in %s is not healthy (%s); restarting it\n", cfg.StateDir, h.summary())
		if err := stopAll(ctx, prev, cfg.Progress); err != nil {
			return nil, err
		}
		removeStackFiles(cfg.StateDir)
	case errors.Is(err, errNoState):
	default:
		return nil, err
	}
	st, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The quickstart's router template binds its listeners to 0.0.0.0.
	// Bind them to loopback, which takes a restart of the quickstart.
	patched, err := bindRouterToLoopback(filepath.Join(st.StateDir, zitiHomeName))
	if err == nil && patched {
		fmt.Fprintf(cfg.Progress, "[stack] binding the edge router to loopback only (restarting ziti)\n")
		var next *State
		if next, err = RestartController(ctx, st, cfg.Progress); err == nil {
			st = next
		}
	}
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*stopGrace)
		defer cancel()
		_ = stopAll(stopCtx, st, cfg.Progress)
		removeStackFiles(st.StateDir)
		return nil, err
	}
	return st, nil
}

// bindRouterToLoopback rewrites the quickstart's router configuration in
// home so that its link and edge listeners bind 127.0.0.1 instead of all
// interfaces. It reports whether it changed anything.
func bindRouterToLoopback(home string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(home, "router-*.yaml"))
	if err != nil || len(files) == 0 {
		return false, fmt.Errorf("stack: no router configuration in %s", home)
	}
	changed := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		patched := strings.ReplaceAll(string(b), "tls:0.0.0.0:", "tls:127.0.0.1:")
		if patched == string(b) {
			continue
		}
		if err := writePrivate(f, []byte(patched)); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// start brings up a new stack; on failure it stops whatever it started.
func start(ctx context.Context, cfg Config) (st *State, err error) {
	began := time.Now()
	zitiBin, vaultBin, err := binaries(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkPortsFree(cfg.ports()); err != nil {
		return nil, err
	}

	dir := cfg.StateDir
	token, err := randomSecret("ztedge-", 24)
	if err != nil {
		return nil, err
	}
	password, err := randomSecret("", 24)
	if err != nil {
		return nil, err
	}
	// The dev server prints its root token to its log, and takes it from
	// its environment: start it with a throwaway token, replaced through
	// the API once it answers.
	vaultBootstrap, err := randomSecret("ztedge-bootstrap-", 24)
	if err != nil {
		return nil, err
	}
	// The quickstart takes the admin password only on its command line,
	// where any local user can read it. So it gets a throwaway password,
	// which is replaced through the API once the router is online.
	bootstrap, err := randomSecret("", 24)
	if err != nil {
		return nil, err
	}

	st = &State{
		VaultAddress:     vaultScheme(cfg) + "://127.0.0.1:" + strconv.Itoa(cfg.VaultPort),
		ControllerURL:    "https://127.0.0.1:" + strconv.Itoa(cfg.ControllerPort),
		RouterAddress:    "127.0.0.1:" + strconv.Itoa(cfg.RouterPort),
		VaultTokenFile:   filepath.Join(dir, vaultTokenName),
		ZitiUsername:     zitiAdmin,
		ZitiPasswordFile: filepath.Join(dir, zitiPasswordName),
		ZitiCAFile:       filepath.Join(dir, zitiCAName),
		ZitiBin:          zitiBin,
		VaultBin:         vaultBin,
		StateDir:         dir,
	}
	for _, p := range []string{filepath.Join(dir, zitiHomeName), filepath.Join(dir, zitiCLIDirName), st.ZitiCAFile} {
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("clear old stack files: %w", err)
		}
	}
	if err := writePrivate(st.VaultTokenFile, []byte(token+"\n")); err != nil {
		return nil, err
	}
	if err := writePrivate(st.ZitiPasswordFile, []byte(password+"\n")); err != nil {
		return nil, err
	}
	secrets := []string{token, password, bootstrap, vaultBootstrap}

	var started []*process
	defer func() {
		if err == nil {
			return
		}
		// Leave nothing half-running; keep the logs for the user.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*stopGrace)
		defer cancel()
		for _, p := range started {
			bin, marker := vaultBin, vaultMarker
			if p.name == "ziti" {
				bin, marker = zitiBin, zitiMarker
			}
			_, _ = stopProcess(stopCtx, p.pid, bin, marker, stopGrace)
		}
		removeStackFiles(dir)
	}()

	env := childEnv(os.Environ())

	var vault *process
	if cfg.VaultTLS {
		if err := prepareVaultServer(st, cfg.VaultPort); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Progress, "[stack] starting vault with TLS and file storage on %s (CA %s, log %s)\n", st.VaultAddress, st.VaultCAFile, st.VaultLogFile())
		vault, err = startVaultServer(st, env)
	} else {
		fmt.Fprintf(cfg.Progress, "[stack] starting vault dev server on %s (log %s)\n", st.VaultAddress, st.VaultLogFile())
		vault, err = startDetached("vault", vaultBin, []string{
			vaultMarker, "-dev",
			"-dev-listen-address=127.0.0.1:" + strconv.Itoa(cfg.VaultPort),
			// Do not write the token to ~/.vault-token.
			"-dev-no-store-token",
		}, append(env, "VAULT_DEV_ROOT_TOKEN_ID="+vaultBootstrap), dir, st.VaultLogFile())
	}
	if err != nil {
		return nil, err
	}
	started = append(started, vault)
	st.VaultPID = vault.pid

	fmt.Fprintf(cfg.Progress, "[stack] starting ziti quickstart, controller %s, router %s (log %s)\n",
		st.ControllerURL, st.RouterAddress, st.ZitiLogFile())
	ziti, err := startDetached("ziti", zitiBin, []string{
		"edge", zitiMarker,
		"--home", filepath.Join(dir, zitiHomeName),
		"--ctrl-address", "127.0.0.1",
		"--ctrl-port", strconv.Itoa(cfg.ControllerPort),
		"--router-address", "127.0.0.1",
		"--router-port", strconv.Itoa(cfg.RouterPort),
		"--username", zitiAdmin,
		"--password", bootstrap,
	}, trustVault(append(env,
		// Keep the CLI login the quickstart does out of ~/.config/ziti.
		"ZITI_CONFIG_DIR="+filepath.Join(dir, zitiCLIDirName),
		// Bind the controller to loopback (the router's template binds all
		// interfaces, which the quickstart does not let us change).
		"ZITI_CTRL_BIND_ADDRESS=127.0.0.1",
		"ZITI_CTRL_EDGE_BIND_ADDRESS=127.0.0.1",
	), st.VaultCAFile), dir, st.ZitiLogFile())
	if err != nil {
		return nil, err
	}
	started = append(started, ziti)
	st.ZitiPID = ziti.pid

	t0 := time.Now()
	if cfg.VaultTLS {
		if err := waitFor(ctx, vault, "vault to be initialised and unsealed on "+st.VaultAddress, secrets, func(ctx context.Context) error {
			root, err := initVaultServer(ctx, st)
			if err != nil {
				return err
			}
			token = root
			secrets = append(secrets, root)
			return vaultHealthy(ctx, st.VaultAddress, st.VaultCAFile)
		}); err != nil {
			return nil, err
		}
	} else {
		if err := waitFor(ctx, vault, "vault to answer on "+st.VaultAddress, secrets, func(ctx context.Context) error {
			return vaultHealthy(ctx, st.VaultAddress, "")
		}); err != nil {
			return nil, err
		}
		if err := waitFor(ctx, vault, "the vault root token to be set", secrets, func(ctx context.Context) error {
			return replaceVaultRootToken(ctx, st.VaultAddress, vaultBootstrap, token)
		}); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(cfg.Progress, "[stack] vault is up (%s)\n", time.Since(t0).Round(100*time.Millisecond))

	t0 = time.Now()
	if err := waitFor(ctx, ziti, "the ziti controller to answer on "+st.ControllerURL, secrets, func(ctx context.Context) error {
		return controllerAnswers(ctx, st.ControllerURL, nil)
	}); err != nil {
		return nil, err
	}
	// The quickstart created its PKI before starting the controller; keep
	// the root CA and check that the controller's chain verifies with it.
	var pool *x509.CertPool
	if err := waitFor(ctx, ziti, "the ziti controller's TLS to verify with its root CA", secrets, func(ctx context.Context) error {
		if err := copyCA(filepath.Join(dir, zitiHomeName, rootCAPath), st.ZitiCAFile); err != nil {
			return err
		}
		p, err := loadCAPool(st.ZitiCAFile)
		if err != nil {
			return err
		}
		if err := controllerAnswers(ctx, st.ControllerURL, p); err != nil {
			return err
		}
		pool = p
		return nil
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "[stack] ziti controller is up (%s)\n", time.Since(t0).Round(100*time.Millisecond))

	// Wait for the router with the bootstrap password: until the router is
	// online the quickstart is still configuring the network through the
	// API and must be able to log in. The first logins right after the API
	// answers may fail: retry.
	t0 = time.Now()
	var mgmt *edgeapis.ManagementApiClient
	if err := waitFor(ctx, ziti, "an edge router to come online", secrets, func(ctx context.Context) error {
		if mgmt == nil {
			c, err := managementLogin(ctx, st.ControllerURL, pool, zitiAdmin, bootstrap)
			if err != nil {
				return err
			}
			mgmt = c
		}
		online, total, err := onlineRouters(ctx, mgmt)
		if err != nil {
			return err
		}
		if len(online) == 0 {
			return fmt.Errorf("%d edge routers, none online yet", total)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "[stack] ziti router is online (%s)\n", time.Since(t0).Round(100*time.Millisecond))

	// Now replace the bootstrap password (visible in the process list) with
	// the real one, and end the API sessions opened with it.
	if err := waitFor(ctx, ziti, "the ziti admin password to be set", secrets, func(ctx context.Context) error {
		return setAdminPassword(ctx, st.ControllerURL, pool, bootstrap, password)
	}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, ziti, "the old ziti admin sessions to be revoked", secrets, func(ctx context.Context) error {
		c, err := managementLogin(ctx, st.ControllerURL, pool, zitiAdmin, password)
		if err != nil {
			return err
		}
		_, err = revokeOtherSessions(ctx, c)
		return err
	}); err != nil {
		return nil, err
	}

	if vault.hasExited() {
		return nil, fmt.Errorf("vault exited while the stack was starting (%v)%s", vault.err, logTail(vault.log, 20, secrets...))
	}
	if err := writePrivate(st.EnvFile(), []byte(envFileContent(st, token, password))); err != nil {
		return nil, err
	}
	if err := saveState(st); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "[stack] up in %s\n", time.Since(began).Round(100*time.Millisecond))
	return st, nil
}

// binaries returns absolute paths of the ziti and vault binaries: the
// configured ones, or the pinned tools (built if needed).
func binaries(ctx context.Context, cfg Config) (zitiBin, vaultBin string, err error) {
	resolve := func(bin string, tool toolchain.Tool) (string, error) {
		if bin == "" {
			return toolchain.Ensure(ctx, tool, cfg.Progress)
		}
		path, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("%s binary %q: %w", tool.Name, bin, err)
		}
		return filepath.Abs(path)
	}
	if zitiBin, err = resolve(cfg.ZitiBin, toolchain.Ziti); err != nil {
		return "", "", err
	}
	if vaultBin, err = resolve(cfg.VaultBin, toolchain.Vault); err != nil {
		return "", "", err
	}
	return zitiBin, vaultBin, nil
}

// setAdminPassword replaces the bootstrap admin password with the real one.
// If the bootstrap password no longer works but the real one does, an
// earlier attempt already changed it.
func setAdminPassword(ctx context.Context, ctrlURL string, pool *x509.CertPool, bootstrap, password string) error {
	client, err := managementLogin(ctx, ctrlURL, pool, zitiAdmin, bootstrap)
	if err != nil {
		if _, err2 := managementLogin(ctx, ctrlURL, pool, zitiAdmin, password); err2 == nil {
			return nil
		}
		return err
	}
	return changeOwnPassword(ctx, client, zitiAdmin, bootstrap, password)
}

// waitFor calls probe until it succeeds, p exits, ctx ends or readyTimeout
// passes. Errors carry the tail of p's log, with secrets redacted.
func waitFor(ctx context.Context, p *process, what string, secrets []string, probe func(context.Context) error) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for {
		if p.hasExited() {
			return fmt.Errorf("%s exited while waiting for %s (%v)%s", p.name, what, p.err, logTail(p.log, 20, secrets...))
		}
		last = probe(ctx)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting for %s: %w", what, context.Cause(ctx))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)%s",
				readyTimeout, what, redact(last.Error(), secrets...), logTail(p.log, 20, secrets...))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting for %s: %w", what, context.Cause(ctx))
		case <-p.exited:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// copyCA copies the quickstart's root CA certificate to dst.
func copyCA(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read the quickstart's root CA: %w", err)
	}
	if !strings.Contains(string(data), "BEGIN CERTIFICATE") {
		return fmt.Errorf("the quickstart's root CA %s is not a PEM certificate", src)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("write the controller CA bundle: %w", err)
	}
	return nil
}

// childEnv returns env without VAULT_* and ZITI_* variables, so that a
// user's settings for other Vaults or networks cannot leak into the stack.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "ZITI_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// lockState serialises Up and Down on one state directory.
func lockState(ctx context.Context, cfg Config) (func(), error) {
	return filelock.Lock(ctx, filepath.Join(cfg.StateDir, lockName), func() {
		fmt.Fprintf(cfg.Progress, "[stack] waiting for another ztedge command using %s…\n", cfg.StateDir)
	})
}
