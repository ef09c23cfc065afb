// Package filelock provides an exclusive, cancellable advisory lock on a
// file (flock(2)), used to serialise work between processes, such as two
// test binaries building the same tool or starting the same stack.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// pollEvery is how often a held lock is retried.
const pollEvery = 250 * time.Millisecond

// Lock takes an exclusive flock on path (created if missing), waiting until
// it is free or ctx ends. waiting, if not nil, is called once when the lock
// is held by someone else. The returned function releases the lock.
//
// flock locks belong to the open file, so two Lock calls in one process
// exclude each other just as two processes do.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(pollEvery):
		}
	}
}
