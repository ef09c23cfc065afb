package benchstats_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/internal/benchstats"
)

func TestRotate(t *testing.T) {
	var order string
	benchstats.Rotate(3, func() { order += "a" }, func() { order += "b" }, func() { order += "c" })
	assert.Equal(t, "abcbcacab", order)
	order = ""
	benchstats.Rotate(4, func() { order += "a" }, func() { order += "b" })
	assert.Equal(t, "abbaabba", order)
}

func TestMedian(t *testing.T) {
	xs := []float64{3, 1, 2}
	assert.InDelta(t, 2.0, benchstats.Median(xs), 0)
	assert.Equal(t, []float64{3, 1, 2}, xs, "input untouched")
	assert.InDelta(t, 2.5, benchstats.Median([]float64{4, 1, 3, 2}), 0)
	assert.True(t, math.IsNaN(benchstats.Median(nil)))
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, benchstats.Percentile(ds, 50))
	assert.Equal(t, 99*time.Millisecond, benchstats.Percentile(ds, 99))
	assert.Equal(t, 100*time.Millisecond, benchstats.Percentile(ds, 100))
	assert.Equal(t, 100*time.Millisecond, ds[0], "input untouched")
	assert.Equal(t, time.Duration(0), benchstats.Percentile(nil, 50))
	assert.Equal(t, 7*time.Millisecond, benchstats.Percentile([]time.Duration{7 * time.Millisecond}, 99))
}
