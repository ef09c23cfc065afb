package provisioning

import (
	"fmt"
	"sort"
	"strings"
)

// object is one desired or existing object of one kind, reduced to the
// fields ztedge manages, each rendered as a comparable string. References to
// other objects are by name, never by ID, so a desired object can be
// compared with an existing one before its dependencies exist.
type object struct {
	Name    string
	ID      string
	Managed bool
	Fields  map[string]string
}

// objectUpdate pairs an existing object with the desired state it must
// be brought to, and names the fields that differ.
type objectUpdate struct {
	Desired  object
	Existing object
	Changed  []string
}

// objectDiff is the result of comparing desired with existing objects of one kind.
type objectDiff struct {
	Creates []object
	Updates []objectUpdate
	Deletes []object
}

// diffObjects compares the desired objects of one kind with the existing
// ones. A desired object without an existing one of its name is created; one
// whose managed fields differ is updated; a managed existing object that is
// not desired is deleted. An existing object that ztedge does not manage but
// whose name a desired object needs is a conflict: ztedge never takes over
// objects it did not create.
func diffObjects(kind string, desired, existing []object) (objectDiff, error) {
	var d objectDiff
	byName := make(map[string]object, len(existing))
	for _, e := range existing {
		byName[e.Name] = e
	}
	want := make(map[string]bool, len(desired))
	var conflicts []string
	for _, o := range desired {
		want[o.Name] = true
		e, ok := byName[o.Name]
		switch {
		case !ok:
			d.Creates = append(d.Creates, o)
		case !e.Managed:
			conflicts = append(conflicts, o.Name)
		default:
			if changed := changedFields(o.Fields, e.Fields); len(changed) > 0 {
				d.Updates = append(d.Updates, objectUpdate{Desired: o, Existing: e, Changed: changed})
			}
		}
	}
	for _, e := range existing {
		if e.Managed && !want[e.Name] {
			d.Deletes = append(d.Deletes, e)
		}
	}
	sort.Slice(d.Deletes, func(i, j int) bool { return d.Deletes[i].Name < d.Deletes[j].Name })
	if len(conflicts) > 0 {
		return d, fmt.Errorf("%s %s already exists and was not created by ztedge (no %s tag); rename or remove it",
			kind, quoteList(conflicts), ManagedTag)
	}
	return d, nil
}

// changedFields lists, sorted, the keys whose values differ between the
// desired and existing field maps. Only keys of the desired map count:
// existing fields ztedge does not manage are ignored.
func changedFields(desired, existing map[string]string) []string {
	var changed []string
	for k, v := range desired {
		if existing[k] != v {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// joinSorted renders a set of strings as a sorted, comma-separated field value.
func joinSorted(items []string) string {
	s := append([]string(nil), items...)
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return strings.Join(out, ",")
}

// splitField is the inverse of joinSorted.
func splitField(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
