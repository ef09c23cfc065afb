package provisioning

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// fieldDiffs collects the differences between the state read from Vault or
// the controller ("have") and the desired state ("want"), one
// "field: have -> want" each.
type fieldDiffs []string

func (d *fieldDiffs) str(field, have, want string) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %q -> %q", field, have, want))
	}
}

func (d *fieldDiffs) secs(field string, have, want int64) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %s -> %s", field, fmtSeconds(have), fmtSeconds(want)))
	}
}

func (d *fieldDiffs) num(field string, have, want int64) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %d -> %d", field, have, want))
	}
}

func (d *fieldDiffs) boolean(field string, have, want bool) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s: %t -> %t", field, have, want))
	}
}

func (d *fieldDiffs) set(field string, have, want []string) {
	if !sameSet(have, want) {
		*d = append(*d, fmt.Sprintf("%s: [%s] -> [%s]", field, strings.Join(normSet(have), " "), strings.Join(normSet(want), " ")))
	}
}

// add records a difference described in words.
func (d *fieldDiffs) add(what string) { *d = append(*d, what) }

// detail joins the differences for a Change's Detail.
func (d fieldDiffs) detail() string { return strings.Join(d, "; ") }

// fmtSeconds formats seconds as a duration, e.g. 3600 -> "1h0m0s".
func fmtSeconds(s int64) string { return (time.Duration(s) * time.Second).String() }

// durationSeconds converts a duration to whole seconds, as Vault stores it.
func durationSeconds(d Duration) int64 { return int64(time.Duration(d) / time.Second) }

// normSet sorts and de-duplicates a list, dropping empty entries.
func normSet(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// sameSet reports whether two lists hold the same entries, ignoring order
// and duplicates.
func sameSet(a, b []string) bool { return slices.Equal(normSet(a), normSet(b)) }

// normJSON returns s re-encoded compactly with sorted keys, or s trimmed
// when it is not JSON, so that equivalent documents compare equal.
func normJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return strings.TrimSpace(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return strings.TrimSpace(s)
	}
	return string(b)
}

// quoteList renders names as a comma-separated list of quoted strings.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
