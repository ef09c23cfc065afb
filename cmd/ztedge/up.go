package main

import (
	"context"
	"errors"
)

// runUp implements "ztedge up": tools, stack, provisioning of the example topology.
func runUp(ctx context.Context, args []string) error {
	return errors.New("up: not implemented yet")
}
