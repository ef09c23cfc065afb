package yesno_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/internal/yesno"
)

func TestParse(t *testing.T) {
	for s, want := range map[string]bool{"1": true, "true": true, " YES ": true, "True": true, "0": false, "false": false, "No": false} {
		on, ok := yesno.Parse(s)
		assert.True(t, ok, "%q", s)
		assert.Equal(t, want, on, "%q", s)
	}
	for _, s := range []string{"", "on", "off", "maybe", "2", "t", "y"} {
		on, ok := yesno.Parse(s)
		assert.False(t, ok, "%q is not a yes/no word", s)
		assert.False(t, on, "%q", s)
	}
}

func ExampleParse() {
	on, ok := yesno.Parse("Yes")
	fmt.Println(on, ok)
	_, ok = yesno.Parse("on")
	fmt.Println(ok, "(want "+yesno.Words+")")
	// Output:
	// true true
	// false (want 1, true or yes; 0, false or no)
}

func TestEnv(t *testing.T) {
	t.Setenv("ZTEDGE_TEST_FLAG", "")
	on, err := yesno.Env("ZTEDGE_TEST_FLAG", true)
	assert.NoError(t, err)
	assert.True(t, on, "unset: the default")
	t.Setenv("ZTEDGE_TEST_FLAG", "no")
	on, err = yesno.Env("ZTEDGE_TEST_FLAG", true)
	assert.NoError(t, err)
	assert.False(t, on)
	t.Setenv("ZTEDGE_TEST_FLAG", "off")
	on, err = yesno.Env("ZTEDGE_TEST_FLAG", true)
	assert.ErrorContains(t, err, `ZTEDGE_TEST_FLAG="off"`)
	assert.True(t, on, "a bad value keeps the default")
}
