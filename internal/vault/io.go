package vault

import (
	"context"
	"fmt"
	"net/http"

	vaultapi "github.com/hashicorp/vault/api"
)

// IsNotFound reports whether err is Vault's 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// Read reads path and returns its data, or nil when it does not exist.
func Read(ctx context.Context, c *vaultapi.Client, path string) (map[string]any, error) {
	s, err := c.Logical().ReadWithContext(ctx, path)
	if err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading vault %s: %w", path, Sanitize(err))
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	return s.Data, nil
}

// Write writes data to path and returns the answer's data (may be nil).
func Write(ctx context.Context, c *vaultapi.Client, path string, data map[string]any) (map[string]any, error) {
	s, err := c.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		return nil, fmt.Errorf("writing vault %s: %w", path, Sanitize(err))
	}
	if s == nil {
		return nil, nil
	}
	return s.Data, nil
}

// Delete deletes path; a path that is already gone is not an error.
func Delete(ctx context.Context, c *vaultapi.Client, path string) error {
	if _, err := c.Logical().DeleteWithContext(ctx, path); err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting vault %s: %w", path, Sanitize(err))
	}
	return nil
}

// List lists path and returns the answer's data ("keys", "key_info"), or
// nil when there is nothing.
func List(ctx context.Context, c *vaultapi.Client, path string) (map[string]any, error) {
	s, err := c.Logical().ListWithContext(ctx, path)
	if err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing vault %s: %w", path, Sanitize(err))
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	return s.Data, nil
}

// String returns v when it is a string (a field of Vault's JSON answer),
// else "".
func String(v any) string {
	s, _ := v.(string)
	return s
}

// Strings returns the strings of v when it is a JSON array (a field of
// Vault's JSON answer), skipping other elements; nil for anything else.
func Strings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
