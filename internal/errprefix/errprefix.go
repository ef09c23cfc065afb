// Package errprefix starts the errors a package's exported functions
// return with the package's one prefix ("gateway: "), once: an error that
// comes from another exported function of the same package, and so has
// the prefix already, does not get it twice.
//
// It is a leaf: it imports nothing of ztedge's.
package errprefix

import (
	"fmt"
	"strings"
)

// Add returns err with prefix before its text, unless the text starts
// with prefix already. nil stays nil; the result unwraps to err.
func Add(prefix string, err error) error {
	if err == nil || strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// Set replaces *err with Add(prefix, *err), for a deferred call on a
// function's named error result:
//
//	defer errprefix.Set("gateway: ", &err)
func Set(prefix string, err *error) { *err = Add(prefix, *err) }
