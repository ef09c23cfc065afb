package vault

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The readers below take a field of a Vault answer's data. Vault's JSON is
// decoded with UseNumber, so numbers arrive as json.Number; durations come
// back as whole seconds.

// String returns v as a string ("" when absent or not a string).
func String(v any) string {
	s, _ := v.(string)
	return s
}

// Strings returns a list of strings; a single string counts as a list and a
// comma-separated string is split.
func Strings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		parts := strings.Split(x, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	default:
		return []string{fmt.Sprint(x)}
	}
}

// Seconds returns a duration field as whole seconds. Vault answers with
// numbers of seconds; a string such as "1h" or "3600" is also accepted.
func Seconds(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("not a number of seconds: %q", x)
		}
		return int64(f), nil
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case string:
		if x == "" {
			return 0, nil
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("not a duration: %q", x)
		}
		return int64(d / time.Second), nil
	default:
		return 0, fmt.Errorf("unexpected %T for a duration", v)
	}
}

// Bool returns a boolean field ("true" strings included).
func Bool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

// Entity is an identity entity as read from Vault.
type Entity struct {
	ID       string
	Name     string
	Policies []string
	Metadata map[string]string
	Disabled bool
	Aliases  []Alias
}

// AliasesOn returns the entity's aliases on the auth mount with the given accessor.
func (e *Entity) AliasesOn(accessor string) []Alias {
	var out []Alias
	for _, a := range e.Aliases {
		if a.MountAccessor == accessor {
			out = append(out, a)
		}
	}
	return out
}

// Alias is an entity alias as read from Vault.
type Alias struct {
	ID            string
	Name          string
	MountAccessor string
	CanonicalID   string
}

// ParseEntity reads an identity/entity answer.
func ParseEntity(data map[string]any) *Entity {
	e := &Entity{
		ID:       String(data["id"]),
		Name:     String(data["name"]),
		Policies: Strings(data["policies"]),
		Disabled: Bool(data["disabled"]),
		Metadata: map[string]string{},
	}
	if m, ok := data["metadata"].(map[string]any); ok {
		for k, v := range m {
			e.Metadata[k] = fmt.Sprint(v)
		}
	}
	if l, ok := data["aliases"].([]any); ok {
		for _, raw := range l {
			if m, ok := raw.(map[string]any); ok {
				a := ParseAlias(m)
				if a.CanonicalID == "" {
					a.CanonicalID = e.ID
				}
				e.Aliases = append(e.Aliases, a)
			}
		}
	}
	return e
}

// ParseAlias reads an entity alias from an entity answer, an alias answer
// or an entry of an alias listing's key_info (which holds no id: set it).
func ParseAlias(m map[string]any) Alias {
	return Alias{
		ID:            String(m["id"]),
		Name:          String(m["name"]),
		MountAccessor: String(m["mount_accessor"]),
		CanonicalID:   String(m["canonical_id"]),
	}
}
