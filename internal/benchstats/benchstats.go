// Package benchstats holds what ztedge's side-by-side benchmarks share to
// compare implementations on a noisy machine: running them in rotating
// order, round after round, and summarising samples by medians and
// percentiles.
package benchstats

import (
	"math"
	"slices"
	"time"
)

// Rotate runs the functions fns in rounds, rotating which goes first each
// round (a b c, b c a, c a b, ...; for two, a b, b a): on this machine the
// batch that runs first after another measured a few percent slower,
// whichever it was, and rotating spreads that over all of them.
func Rotate(rounds int, fns ...func()) {
	for r := range rounds {
		for i := range fns {
			fns[(r+i)%len(fns)]()
		}
	}
}

// Median returns the median of xs (the mean of the two middle values for
// an even count), or NaN for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, or 0 for none. ds is not modified.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
