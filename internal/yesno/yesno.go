// Package yesno reads the on/off words ztedge accepts in configuration
// files, flags' environment variables and settings: 1, true and yes for on,
// 0, false and no for off, in any case and with surrounding spaces. Any
// other word is an error for the caller to report, never a silent off.
package yesno

import (
	"fmt"
	"os"
	"strings"
)

// Parse reads s. ok is false when s is empty or not one of the words.
func Parse(s string) (on, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes":
		return true, true
	case "0", "false", "no":
		return false, true
	}
	return false, false
}

// Words says in an error message which words Parse accepts.
const Words = "1, true or yes; 0, false or no"

// Env reads the environment variable name: def when it is unset or empty,
// an error naming it (with def) when it holds no yes/no word.
func Env(name string, def bool) (bool, error) {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return def, nil
	}
	if on, ok := Parse(v); ok {
		return on, nil
	}
	return def, fmt.Errorf("%s=%q: want %s", name, v, Words)
}
