package testprog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseLoad(t *testing.T) {
	text := "instance 0a1b\n" +
		"load 1 core-data 1765000000123 2345: 200 core-data here; you are device-virtual; instance 9f8e7d6c\n" +
		"time=x level=INFO msg=unrelated\n" +
		"load 2 core-data 1765000000323 5000000: error Get \"http://core-data.edgex.ziti/whoami\": context deadline exceeded\n" +
		"load 3 core-data 1765000005323 900: 503 not ready\n"
	calls := parseLoad(text)
	assert.Len(t, calls, 3)
	assert.Equal(t, Call{N: 1, Peer: "core-data", Start: time.UnixMilli(1765000000123), Latency: 2345 * time.Microsecond, OK: true,
		Instance: "9f8e7d6c", Outcome: "200 core-data here; you are device-virtual; instance 9f8e7d6c"}, calls[0])
	assert.False(t, calls[1].OK)
	assert.Equal(t, 5*time.Second, calls[1].Latency)
	assert.Equal(t, time.UnixMilli(1765000005323), calls[1].End())
	assert.False(t, calls[2].OK, "only a 200 is a success")
	assert.Empty(t, calls[2].Instance)
}
