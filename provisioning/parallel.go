package provisioning

import (
	"context"
	"sync"
)

// maxParallel bounds the requests provisioning sends at once to Vault and
// to the controller: enough to hide each request's round trip, few enough
// not to swamp a controller that commits every write on its own.
const maxParallel = 8

// forEach calls fn for 0..n-1 with at most maxParallel calls at once and
// returns the first error; after an error, calls not yet started are
// skipped and the context passed to running ones is cancelled.
func forEach(parent context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return parent.Err()
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan int)
	)
	workers := min(n, maxParallel)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return parent.Err()
}

// collect runs fn for 0..n-1 as forEach does and returns the results in
// index order.
func collect[T any](ctx context.Context, n int, fn func(ctx context.Context, i int) (T, error)) ([]T, error) {
	out := make([]T, n)
	err := forEach(ctx, n, func(ctx context.Context, i int) error {
		v, err := fn(ctx, i)
		out[i] = v
		return err
	})
	return out, err
}
