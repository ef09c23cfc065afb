package provisioning

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApplyAndDestroyOfOneOutputFolderRunOneAtATime(t *testing.T) {
	top := parseValid(t)
	top.Output = t.TempDir()
	var logs strings.Builder
	first := &Provisioner{t: top, log: slog.New(slog.DiscardHandler)}
	second := &Provisioner{t: top, log: slog.New(slog.NewTextHandler(&logs, nil))}
	unlock, err := first.lock(context.Background())
	require.NoError(t, err)

	got := make(chan error, 1)
	go func() {
		unlock2, err := second.lock(context.Background())
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a second run took the lock while the first held it (err %v)", err)
	case <-time.After(600 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the second run did not get the lock once the first let go")
	}
	assert.Contains(t, logs.String(), "waiting for another ztedge provision apply or destroy")
}
