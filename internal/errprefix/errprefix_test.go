package errprefix

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAdd(t *testing.T) {
	assert.NoError(t, Add("pkg: ", nil))
	err := Add("pkg: ", fs.ErrNotExist)
	assert.EqualError(t, err, "pkg: file does not exist")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Same(t, err, Add("pkg: ", err), "the prefix is added once")
	assert.EqualError(t, Add("pkg: ", errors.New("other: x")), "pkg: other: x")
}

func TestSet(t *testing.T) {
	f := func(fail error) (err error) {
		defer Set("pkg: ", &err)
		return fail
	}
	assert.NoError(t, f(nil))
	assert.EqualError(t, f(errors.New("x")), "pkg: x")
	assert.EqualError(t, f(errors.New("pkg: x")), "pkg: x")
}
