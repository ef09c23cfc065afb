package filelock

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestLockExcludesAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	waited := false
	if _, err := Lock(ctx, path, func() { waited = true }); err == nil {
		t.Fatal("second Lock succeeded while the first was held")
	}
	if !waited {
		t.Error("waiting callback was not called")
	}

	unlock()
	unlock2, err := Lock(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	unlock2()
}
