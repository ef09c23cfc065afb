package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// RestartController stops the stack's Ziti controller and router (one
// quickstart process) and starts them again on the same home, ports and
// database, as an operator's restart would. It waits until the controller
// answers and an edge router is online again, and records the new pid.
// Vault is left alone.
func RestartController(ctx context.Context, st *State, progress io.Writer) (*State, error) {
	if progress == nil {
		progress = io.Discard
	}
	u, err := url.Parse(st.ControllerURL)
	if err != nil {
		return nil, fmt.Errorf("stack: controller URL %q: %w", st.ControllerURL, err)
	}
	_, routerPort, err := net.SplitHostPort(st.RouterAddress)
	if err != nil {
		return nil, fmt.Errorf("stack: router address %q: %w", st.RouterAddress, err)
	}
	stopped, err := stopProcess(ctx, st.ZitiPID, st.ZitiBin, zitiMarker, stopGrace)
	if err != nil {
		return nil, fmt.Errorf("stack: stopping ziti (pid %d): %w", st.ZitiPID, err)
	}
	if !stopped {
		return nil, fmt.Errorf("stack: ziti (pid %d) is not the process this stack started", st.ZitiPID)
	}
	fmt.Fprintf(progress, "[stack] stopped ziti (pid %d); starting it again\n", st.ZitiPID)
	password, err := st.ZitiPassword()
	if err != nil {
		return nil, err
	}
	// The quickstart reuses an initialised home and does not log in, so
	// the password on its command line is unused: give it a throwaway one.
	throwaway, err := randomSecret("", 24)
	if err != nil {
		return nil, err
	}
	// Keep the log of the run that just ended beside the new one.
	_ = os.Rename(st.ZitiLogFile(), st.ZitiLogFile()+".1")
	ziti, err := startDetached("ziti", st.ZitiBin, []string{
		"edge", zitiMarker,
		"--home", filepath.Join(st.StateDir, zitiHomeName),
		"--ctrl-address", "127.0.0.1",
		"--ctrl-port", u.Port(),
		"--router-address", "127.0.0.1",
		"--router-port", routerPort,
		"--username", st.ZitiUsername,
		"--password", throwaway,
	}, trustVault(append(childEnv(os.Environ()),
		"ZITI_CONFIG_DIR="+filepath.Join(st.StateDir, zitiCLIDirName),
		"ZITI_CTRL_BIND_ADDRESS=127.0.0.1",
		"ZITI_CTRL_EDGE_BIND_ADDRESS=127.0.0.1",
	), st.VaultCAFile), st.StateDir, st.ZitiLogFile())
	if err != nil {
		return nil, err
	}
	next := *st
	next.ZitiPID = ziti.pid
	stopNew := func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*stopGrace)
		defer cancel()
		_, _ = stopProcess(stopCtx, ziti.pid, st.ZitiBin, zitiMarker, stopGrace)
	}
	pool, err := loadCAPool(st.ZitiCAFile)
	if err != nil {
		stopNew()
		return nil, err
	}
	secrets := []string{password, throwaway}
	t0 := time.Now()
	if err := waitFor(ctx, ziti, "an edge router to come online after the restart", secrets, func(ctx context.Context) error {
		c, err := managementLogin(ctx, st.ControllerURL, pool, st.ZitiUsername, password)
		if err != nil {
			return err
		}
		online, total, err := onlineRouters(ctx, c)
		if err != nil {
			return err
		}
		if len(online) == 0 {
			return fmt.Errorf("%d edge routers, none online yet", total)
		}
		return nil
	}); err != nil {
		stopNew()
		return nil, err
	}
	if err := saveState(&next); err != nil {
		stopNew()
		return nil, err
	}
	fmt.Fprintf(progress, "[stack] ziti is back (pid %d, %s)\n", next.ZitiPID, time.Since(t0).Round(100*time.Millisecond))
	return &next, nil
}
