package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/netstat"
	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/toolchain"
	"github.com/ztedge/ztedge/provisioning"
)

const upUsage = `usage: ztedge up [flags]

Builds the pinned tools if needed, brings up the local stack, provisions the
example topology, starts the core-data and device-virtual example services in
zerotrust mode, shows readings flowing over Ziti with their sender, reaches
core-data with curl through "ztedge tunnel" (loopback only) as the operator
identity, and shows that no API port is open on the host. It runs until interrupted (or once, with -once), then stops
what it started.
`

// upOptions are the flags of "ztedge up".
type upOptions struct {
	topology       string
	once           bool
	coreDataPing   int
	devicePing     int
	tunnelPort     int
	proxyPort      int
	readingsPeriod time.Duration
	vaultTLS       *bool // nil: ZTEDGE_VAULT_TLS decides (default on)
}

// runUp implements "ztedge up".
func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var o upOptions
	fs.StringVar(&o.topology, "topology", "examples/topology.yaml", "topology file to provision (relative to the source tree)")
	fs.BoolVar(&o.once, "once", false, "show the demo once and stop instead of running until interrupted")
	fs.IntVar(&o.coreDataPing, "core-data-ping-port", 59980, "underlay ping port of core-data")
	fs.IntVar(&o.devicePing, "device-ping-port", 59990, "underlay ping port of device-virtual")
	fs.IntVar(&o.tunnelPort, "tunnel-port", 18080, "loopback port \"ztedge tunnel\" forwards to core-data")
	fs.IntVar(&o.proxyPort, "proxy-port", 18099, "loopback port of the tunnel's HTTP proxy for http://<service>.edgex.ziti")
	fs.DurationVar(&o.readingsPeriod, "every", 3*time.Second, "how often device-virtual posts a reading")
	vaultTLSFlag(fs, func(on bool) { o.vaultTLS = &on })
	fs.Usage = func() { fmt.Fprint(fs.Output(), upUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{"up: " + err.Error()}
	}
	return up(ctx, os.Stdout, o)
}

// demo tracks what "ztedge up" started, to stop it again.
type demo struct {
	out       io.Writer
	stopStack bool
	cfg       stack.Config
	procs     []*exec.Cmd
}

func up(ctx context.Context, out io.Writer, o upOptions) (err error) {
	d := &demo{out: out, cfg: stack.ConfigFromEnv()}
	d.cfg.Progress = os.Stderr
	defer func() {
		if cerr := d.cleanup(); err == nil {
			err = cerr
		}
	}()
	src, err := toolchain.SourceDir()
	if err != nil {
		return err
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n==> "+format+"\n", args...) }

	step("Building the pinned tools (once; later runs reuse them)")
	paths, err := toolchain.EnsureAll(ctx, os.Stderr)
	if err != nil {
		return err
	}
	d.cfg.ZitiBin, d.cfg.VaultBin = paths.Ziti, paths.Vault

	if o.vaultTLS != nil {
		d.cfg.SetVaultTLS(*o.vaultTLS)
	}
	vaultKind := "Vault dev server"
	if d.cfg.VaultTLS {
		vaultKind = "Vault with TLS and file storage"
	}
	step("Bringing up the local stack: %s and Ziti controller and edge router", vaultKind)
	_, health, err := stack.Status(ctx, d.cfg)
	if err != nil {
		return err
	}
	wasUp := health.Healthy()
	st, err := stack.Up(ctx, d.cfg)
	if err != nil {
		return err
	}
	d.stopStack = !wasUp
	fmt.Fprintf(out, "    Vault:           %s (root token in %s)\n", st.VaultAddress, st.VaultTokenFile)
	fmt.Fprintf(out, "    Ziti controller: %s (admin %q, password in %s, CA %s)\n", st.ControllerURL, st.ZitiUsername, st.ZitiPasswordFile, st.ZitiCAFile)
	fmt.Fprintf(out, "    Edge router:     %s\n", st.RouterAddress)
	fmt.Fprintf(out, "    Shell settings:  source %s\n", st.EnvFile())

	step("Provisioning %s", o.topology)
	output := st.ProvisionedDir()
	for k, v := range st.TopologyEnv(output) {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	top, err := provisioning.LoadFile(filepath.Join(src, o.topology))
	if err != nil {
		return err
	}
	if top.Vault.CACert == "" && st.VaultCAFile != "" {
		top.Vault.CACert = st.VaultCAFile // the stack's Vault has TLS
	}
	p, err := provisioning.New(ctx, top, nil)
	if err != nil {
		return err
	}
	plan, err := p.Apply(ctx, func(c provisioning.Change) { fmt.Fprintf(out, "    %s\n", c) })
	if err != nil {
		return err
	}
	if plan.Empty() {
		fmt.Fprintln(out, "    Already provisioned: nothing to change.")
	} else {
		fmt.Fprintf(out, "    Applied: %s.\n", plan.Summary())
	}
	fmt.Fprintf(out, "    Service credentials: %s/services/<name>/credentials.json\n", output)
	fmt.Fprintf(out, "    Client identities: %s/clients/<name>.json (for ztedge tunnel)\n", output)
	for _, s := range top.Services {
		fmt.Fprintf(out, "    %-18s Ziti service %-24s intercept http://%s:%d\n", s.Name, provisioning.ZitiServiceName(s.Name), s.Host, s.Port)
	}

	step("Starting core-data and device-virtual in Mode=zerotrust")
	binDir := filepath.Join(st.StateDir, "bin")
	for _, pkg := range []string{"./examples/core-data", "./examples/device-virtual", "./cmd/ztedge"} {
		if err := goBuild(ctx, src, binDir, pkg); err != nil {
			return err
		}
	}
	// The controller's and Vault's CAs are the ones provisioning wrote
	// next to each service's credentials.
	env := func(name string, ping int) []string {
		return append(demoEnv(),
			"SERVICE_HEALTHPORT="+strconv.Itoa(ping),
			"SERVICE_SECURITYOPTIONS_MODE=zerotrust",
			"SERVICE_SECURITYOPTIONS_OPENZITICONTROLLER="+st.ControllerURL,
			"SERVICE_SECURITYOPTIONS_VAULTCREDENTIALSFILE="+credentials.Path(output, name),
		)
	}
	coreData, err := d.start(ctx, st, filepath.Join(binDir, "core-data"), env("core-data", o.coreDataPing),
		"-config", filepath.Join(src, "examples/core-data/configuration.yaml"))
	if err != nil {
		return err
	}
	if err := waitPing(ctx, coreData, o.coreDataPing); err != nil {
		return err
	}
	device, err := d.start(ctx, st, filepath.Join(binDir, "device-virtual"), env("device-virtual", o.devicePing),
		"-config", filepath.Join(src, "examples/device-virtual/configuration.yaml"), "-every", o.readingsPeriod.String())
	if err != nil {
		return err
	}
	if err := waitPing(ctx, device, o.devicePing); err != nil {
		return err
	}
	fmt.Fprintf(out, "    Logs: %s/core-data.log, %s/device-virtual.log\n", st.StateDir, st.StateDir)

	step("Ports open on the host: no API port, only the underlay ping ports")
	for _, c := range []*exec.Cmd{coreData, device} {
		ports, err := netstat.Listening(c.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    %-15s pid %-7d listens on %s\n", filepath.Base(c.Path), c.Process.Pid, formatPorts(ports))
	}
	fmt.Fprintf(out, "    curl http://127.0.0.1:%d/api/v3/ping answers; every other path there is 404.\n", o.coreDataPing)

	step("Reaching core-data from curl through \"ztedge tunnel\" as identity \"operator\", on loopback only")
	url, err := d.tunnel(ctx, st, filepath.Join(binDir, "ztedge"), credentials.IdentityPath(output, "operator"), o)
	if err != nil {
		return err
	}

	if o.once {
		step("Done (-once): stopping what was started")
		return nil
	}
	step("Readings keep flowing over Ziti; press Ctrl-C to stop and clean up")
	tick := time.NewTicker(2 * o.readingsPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "\n==> Interrupted: stopping what was started")
			return nil
		case <-tick.C:
		}
		body, err := fetch(ctx, url)
		if err != nil {
			fmt.Fprintf(out, "    reading through the tunnel failed: %v\n", err)
			continue
		}
		if err := showReadings(out, body); err != nil {
			fmt.Fprintf(out, "    %v\n", err)
		}
	}
}

// demoEnv is the environment for the processes "up" starts: this one's,
// without the Vault token, Ziti admin credentials and other VAULT_/ZITI_
// settings a shell may hold after sourcing stack.env.
func demoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "ZITI_") || strings.HasPrefix(kv, "ZTEDGE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// goBuild builds a package of the source tree into dir.
func goBuild(ctx context.Context, src, dir, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), pkg)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// start runs a program in the background with its output in
// <state>/<name>.log, and remembers it for cleanup.
func (d *demo) start(ctx context.Context, st *stack.State, bin string, env []string, args ...string) (*exec.Cmd, error) {
	name := filepath.Base(bin)
	if len(args) > 0 && args[0] == "tunnel" {
		name = "tunnel"
	}
	log, err := os.OpenFile(filepath.Join(st.StateDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	log.Close()
	d.procs = append(d.procs, cmd)
	go func() { _ = cmd.Wait() }()
	return cmd, nil
}

// exited reports whether a started process has ended.
func exited(cmd *exec.Cmd) bool {
	return cmd.Process.Signal(syscall.Signal(0)) != nil
}

func logTail(cmd *exec.Cmd) string {
	f := cmd.Stdout.(*os.File)
	b, _ := os.ReadFile(f.Name())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// waitPing waits for a service's underlay ping, failing if it exits.
func waitPing(ctx context.Context, cmd *exec.Cmd, port int) error {
	deadline := time.Now().Add(90 * time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v3/ping", port)
	for time.Now().Before(deadline) {
		if exited(cmd) {
			return fmt.Errorf("%s exited; the end of its log:%s", filepath.Base(cmd.Path), logTail(cmd))
		}
		if _, err := fetch(ctx, url); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer ping on port %d; the end of its log:%s", filepath.Base(cmd.Path), port, logTail(cmd))
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return body, nil
}

// showReadings prints how many readings core-data holds and the last few, with their sender.
func showReadings(out io.Writer, body []byte) error {
	var rs []struct {
		Device, Resource, Sender string
		Value                    float64
		Origin                   time.Time
	}
	if err := json.Unmarshal(body, &rs); err != nil {
		return fmt.Errorf("core-data answered something that is not a list of readings: %w", err)
	}
	fmt.Fprintf(out, "    core-data holds %d readings; the latest:\n", len(rs))
	for _, r := range rs[max(0, len(rs)-3):] {
		fmt.Fprintf(out, "      %s %s/%s = %.2f, sent by %q over Ziti\n", r.Origin.Format(time.TimeOnly), r.Device, r.Resource, r.Value, r.Sender)
	}
	return nil
}

func formatPorts(ports []netip.AddrPort) string {
	if len(ports) == 0 {
		return "nothing"
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return strings.Join(s, ", ") + " (ping only)"
}

// cleanup stops the processes "up" started and, if it started it, the stack.
func (d *demo) cleanup() error {
	for i := len(d.procs) - 1; i >= 0; i-- {
		c := d.procs[i]
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		for j := 0; j < 50 && !exited(c); j++ {
			time.Sleep(100 * time.Millisecond)
		}
		if !exited(c) {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	if !d.stopStack {
		if len(d.procs) > 0 {
			fmt.Fprintln(d.out, "    The stack was already up before: left running (ztedge stack down stops it).")
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return stack.Down(ctx, d.cfg)
}
