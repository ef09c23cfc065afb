package filelock

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockExcludesAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(t.Context(), path, nil)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	waited := false
	_, err = Lock(ctx, path, func() { waited = true })
	require.Error(t, err, "second Lock succeeded while the first was held")
	assert.True(t, waited, "waiting callback was not called")

	unlock()
	unlock2, err := Lock(t.Context(), path, nil)
	require.NoError(t, err, "Lock after release")
	unlock2()
}
