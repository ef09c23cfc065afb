package main

import (
	"context"
	"errors"
)

// runProvision implements "ztedge provision plan|apply|destroy -f FILE".
func runProvision(ctx context.Context, args []string) error {
	return errors.New("provision: not implemented yet")
}
