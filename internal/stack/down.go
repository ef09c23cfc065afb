package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Component is the health of one part of the stack.
type Component struct {
	// Up is true when the component is running and answering.
	Up bool
	// Detail says what was checked, or what is wrong.
	Detail string
}

// String renders "up (detail)" or "down: detail".
func (c Component) String() string {
	if c.Up {
		return "up (" + c.Detail + ")"
	}
	return "down: " + c.Detail
}

// Health reports each component of the stack.
type Health struct {
	// Vault is the Vault server.
	Vault Component
	// Controller is the Ziti controller (its client API answering).
	Controller Component
	// Router is the edge router, as the controller sees it (online or not).
	Router Component
}

// Healthy reports whether every component is up.
func (h Health) Healthy() bool {
	return h.Vault.Up && h.Controller.Up && h.Router.Up
}

// summary lists the components that are down, for messages.
func (h Health) summary() string {
	var parts []string
	for _, c := range []struct {
		name string
		c    Component
	}{{"vault", h.Vault}, {"controller", h.Controller}, {"router", h.Router}} {
		if !c.c.Up {
			parts = append(parts, c.name+" "+c.c.String())
		}
	}
	return strings.Join(parts, "; ")
}

// Down stops the processes that Up started for cfg.StateDir and removes the
// stack's state and secrets (logs are kept). A process is only signalled if
// its recorded pid still runs the recorded binary, so a reused pid is never
// hit. Down on a stack that is not up does nothing.
func Down(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.StateDir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(cfg.Progress, "[stack] not up (no state directory %s); nothing to stop\n", cfg.StateDir)
		return nil
	}
	unlock, err := lockState(ctx, cfg)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := loadState(cfg.StateDir)
	if errors.Is(err, errNoState) {
		fmt.Fprintf(cfg.Progress, "[stack] not up (no %s in %s); nothing to stop\n", stateFileName, cfg.StateDir)
		return nil
	}
	if err != nil {
		return err
	}
	if err := stopAll(ctx, st, cfg.Progress); err != nil {
		return err
	}
	removeStackFiles(cfg.StateDir)
	fmt.Fprintf(cfg.Progress, "[stack] down (logs kept in %s)\n", cfg.StateDir)
	return nil
}

// stopAll stops the stack's processes, ziti first.
func stopAll(ctx context.Context, st *State, progress io.Writer) error {
	var errs []error
	for _, c := range []struct {
		name, bin, marker string
		pid               int
	}{
		{"ziti", st.ZitiBin, zitiMarker, st.ZitiPID},
		{"vault", st.VaultBin, vaultMarker, st.VaultPID},
	} {
		found, err := stopProcess(ctx, c.pid, c.bin, c.marker, stopGrace)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("stop %s (pid %d): %w", c.name, c.pid, err))
		case found:
			fmt.Fprintf(progress, "[stack] stopped %s (pid %d)\n", c.name, c.pid)
		default:
			fmt.Fprintf(progress, "[stack] %s (pid %d) was not running\n", c.name, c.pid)
		}
	}
	return errors.Join(errs...)
}

// removeStackFiles removes the state, secrets and Ziti home of a stopped
// stack; the logs stay.
func removeStackFiles(dir string) {
	for _, name := range []string{stateFileName, envFileName, vaultTokenName, zitiPasswordName,
		zitiCAName, zitiHomeName, zitiCLIDirName, vaultDirName} {
		_ = os.RemoveAll(filepath.Join(dir, name))
	}
}

// Status reports the stack in cfg.StateDir and the health of each
// component. If the stack is not up (no state), it returns a nil State and
// a Health with every component down, and no error.
func Status(ctx context.Context, cfg Config) (*State, Health, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, Health{}, err
	}
	st, err := loadState(cfg.StateDir)
	if errors.Is(err, errNoState) {
		down := Component{Detail: "not started"}
		return nil, Health{Vault: down, Controller: down, Router: down}, nil
	}
	if err != nil {
		return nil, Health{}, err
	}
	return st, check(ctx, st), nil
}

// check probes each component of a recorded stack.
func check(ctx context.Context, st *State) Health {
	var h Health
	if !processMatches(st.VaultPID, st.VaultBin, vaultMarker) {
		h.Vault = Component{Detail: fmt.Sprintf("process %d is not running", st.VaultPID)}
	} else if err := vaultHealthy(ctx, st.VaultAddress, st.VaultCAFile); err != nil {
		h.Vault = Component{Detail: err.Error()}
	} else {
		h.Vault = Component{Up: true, Detail: fmt.Sprintf("%s, pid %d", st.VaultAddress, st.VaultPID)}
	}

	if !processMatches(st.ZitiPID, st.ZitiBin, zitiMarker) {
		h.Controller = Component{Detail: fmt.Sprintf("process %d is not running", st.ZitiPID)}
		h.Router = Component{Detail: "controller is down"}
		return h
	}
	pool, err := loadCAPool(st.ZitiCAFile)
	if err != nil {
		h.Controller = Component{Detail: err.Error()}
		h.Router = Component{Detail: "controller is down"}
		return h
	}
	if err := controllerAnswers(ctx, st.ControllerURL, pool); err != nil {
		h.Controller = Component{Detail: err.Error()}
		h.Router = Component{Detail: "controller is down"}
		return h
	}
	h.Controller = Component{Up: true, Detail: fmt.Sprintf("%s, pid %d", st.ControllerURL, st.ZitiPID)}

	password, err := st.ZitiPassword()
	if err != nil {
		h.Router = Component{Detail: err.Error()}
		return h
	}
	client, err := managementLogin(ctx, st.ControllerURL, pool, st.ZitiUsername, password)
	if err != nil {
		h.Router = Component{Detail: err.Error()}
		return h
	}
	online, total, err := onlineRouters(ctx, client)
	switch {
	case err != nil:
		h.Router = Component{Detail: err.Error()}
	case len(online) == 0:
		h.Router = Component{Detail: fmt.Sprintf("%d edge routers, none online", total)}
	default:
		h.Router = Component{Up: true, Detail: fmt.Sprintf("%s online at %s", strings.Join(online, ", "), st.RouterAddress)}
	}
	return h
}
