// Package stacktest starts a private local stack (Vault dev server and Ziti
// quickstart) for integration tests.
//
// It never skips: if the tools cannot be built or the stack does not come
// up, Start returns the error and the calling test should fail.
package stacktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ztedge/ztedge/internal/stack"
	"github.com/ztedge/ztedge/internal/toolchain"
)

// cleanupTimeout bounds the Down done by the cleanup function.
const cleanupTimeout = 60 * time.Second

// Start builds the pinned tools if needed, picks free loopback ports, and
// starts a stack in a fresh temporary state directory. The returned cleanup
// stops the stack and removes the directory; it is safe to call more than
// once, and should be called even if a test fails (t.Cleanup).
//
// The first run in a fresh cache compiles ziti and vault, which takes
// several minutes: run such tests with a generous -timeout.
//
// Each option may change the configuration before the stack starts (for
// example VaultTLS); the ports and folder are set already.
func Start(ctx context.Context, progress io.Writer, options ...func(*stack.Config)) (*stack.State, func(), error) {
	if progress == nil {
		progress = io.Discard
	}
	paths, err := toolchain.EnsureAll(ctx, progress)
	if err != nil {
		return nil, nil, fmt.Errorf("stacktest: build tools: %w", err)
	}
	// Another process may grab a picked port before the stack binds it:
	// pick again a few times when Up reports exactly that.
	for attempt := 1; ; attempt++ {
		st, cleanup, err := startOnce(ctx, paths, progress, options)
		var busy *stack.PortInUseError
		if err != nil && errors.As(err, &busy) && attempt < 3 {
			fmt.Fprintf(progress, "[stacktest] %v; picking other ports\n", busy)
			continue
		}
		return st, cleanup, err
	}
}

// startOnce starts a stack on freshly picked ports in a new directory.
func startOnce(ctx context.Context, paths toolchain.Paths, progress io.Writer, options []func(*stack.Config)) (*stack.State, func(), error) {
	ports, err := FreePorts()
	if err != nil {
		return nil, nil, fmt.Errorf("stacktest: %w", err)
	}
	dir, err := os.MkdirTemp("", "ztedge-stacktest-")
	if err != nil {
		return nil, nil, fmt.Errorf("stacktest: create state directory: %w", err)
	}
	cfg := stack.Config{
		StateDir:       dir,
		VaultPort:      ports.Vault,
		ControllerPort: ports.Controller,
		RouterPort:     ports.Router,
		ZitiBin:        paths.Ziti,
		VaultBin:       paths.Vault,
		Progress:       progress,
	}
	for _, o := range options {
		o(&cfg)
	}
	var once sync.Once
	cleanup := func() { once.Do(func() { stop(cfg, progress) }) }
	st, err := stack.Up(ctx, cfg)
	if err != nil {
		var busy *stack.PortInUseError
		if errors.As(err, &busy) {
			_ = os.RemoveAll(dir) // nothing was started
		}
		// Up stops what it started on failure; keep the logs for diagnosis.
		return nil, nil, fmt.Errorf("stacktest: start stack (logs in %s): %w", dir, err)
	}
	return st, cleanup, nil
}

// stop stops the stack of cfg and removes its state directory.
func stop(cfg stack.Config, progress io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := stack.Down(ctx, cfg); err != nil {
		fmt.Fprintf(progress, "[stacktest] stopping the stack in %s: %v\n", cfg.StateDir, err)
	}
	_ = os.RemoveAll(cfg.StateDir)
}

// Ports is a set of free loopback ports for a stack.
type Ports struct {
	// Vault is Vault's API port; Vault+1 (its cluster port) was free too.
	Vault int
	// Controller is the Ziti controller's port.
	Controller int
	// Router is the Ziti edge router's port.
	Router int
}

// FreePorts picks ports that are free on 127.0.0.1 right now: a Vault port
// whose successor is also free, and two more for the controller and router.
// They are released before returning, so a race with other processes is
// possible but unlikely.
func FreePorts() (Ports, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	listen := func(port int) (int, error) {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return 0, err
		}
		held = append(held, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	var p Ports
	for try := 0; ; try++ {
		if try == 50 {
			return Ports{}, errors.New("no free pair of adjacent loopback ports for Vault after 50 tries")
		}
		port, err := listen(0)
		if err != nil {
			return Ports{}, fmt.Errorf("pick a free port: %w", err)
		}
		if port >= 65535 {
			continue
		}
		if _, err := listen(port + 1); err == nil {
			p.Vault = port
			break
		}
	}
	var err error
	if p.Controller, err = listen(0); err != nil {
		return Ports{}, fmt.Errorf("pick a free port: %w", err)
	}
	if p.Router, err = listen(0); err != nil {
		return Ports{}, fmt.Errorf("pick a free port: %w", err)
	}
	return p, nil
}
