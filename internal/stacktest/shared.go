package stacktest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/idtoken"
	"github.com/ztedge/ztedge/internal/stack"
)

var (
	sharedOnce    sync.Once
	sharedState   *stack.State
	sharedErr     error
	sharedCleanup func()
)

// Shared starts one stack per test binary on first use and returns it. A
// test package that uses it calls StopShared from TestMain after m.Run. It
// fails the test, never skips it, when the stack cannot start.
func Shared(t testing.TB) *stack.State {
	t.Helper()
	Integration(t)
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		sharedState, sharedCleanup, sharedErr = Start(ctx, os.Stderr)
	})
	if sharedErr != nil {
		t.Fatalf("the real Vault and Ziti stack must start: %v", sharedErr)
	}
	return sharedState
}

// StopShared stops the shared stack, if one was started.
func StopShared() {
	if sharedCleanup != nil {
		sharedCleanup()
	}
}

// RestartController restarts the Ziti controller and router of st in
// place (see stack.RestartController) and updates *st.
func RestartController(ctx context.Context, st *stack.State) error {
	next, err := stack.RestartController(ctx, st, os.Stderr)
	if err != nil {
		return err
	}
	*st = *next
	return nil
}

// TopologyEnv returns the environment variables examples/topology.yaml
// reads, for stack st and the given output folder.
func TopologyEnv(st *stack.State, output string) map[string]string { return st.TopologyEnv(output) }

// Integration skips t under "go test -short", the fast loop, and does
// nothing otherwise: integration tests never skip in the full suite.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the real components: runs without -short")
	}
}

// ServiceJWT logs in with the credentials file of service name under
// output and returns a fresh JWT for it.
func ServiceJWT(t testing.TB, output, name string) string {
	t.Helper()
	src, err := idtoken.New(credentials.Path(output, name), idtoken.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("credentials of %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("JWT of %s: %v", name, err)
	}
	return tok
}
