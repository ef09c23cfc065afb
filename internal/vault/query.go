package vault

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// WithoutQuery returns err with the query string cut from the URL of a
// failed request (*url.Error), so that an error about an unreachable Vault
// can be shown and logged as is; other errors are returned unchanged.
func WithoutQuery(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	u := ue.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return fmt.Errorf("%s %q: %w", ue.Op, u, ue.Err)
}
