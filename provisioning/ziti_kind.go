package provisioning

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/edge-api/rest_util"
)

// zitiObject is one object of a kind, as the controller holds it or as
// the topology wants it, with the part ztedge manages as a typed spec.
// References to other objects are by name, never by ID, so a desired
// object can be compared with an existing one before its dependencies
// exist.
type zitiObject[S any] struct {
	Name    string
	ID      string // "" for a desired object
	Managed bool   // carries ztedge's tag
	Spec    S
}

// zitiSpec is the managed part of an object of one kind.
type zitiSpec[S any] interface {
	// diff lists the fields of have that differ from the receiver (want).
	diff(have S) fieldDiffs
}

// zitiKind is the controller API of one kind of object. Each kind lives in
// a file of its own; [zitiSide.planAgainst] drives them in dependency
// order.
type zitiKind[S zitiSpec[S]] interface {
	// kind names the kind in plans, e.g. "ziti identity".
	kind() string
	// list reads every object of the kind, recording IDs and names with
	// [zitiSide.remember].
	list(ctx context.Context, z *zitiSide) ([]zitiObject[S], error)
	// create creates o and returns its ID.
	create(ctx context.Context, z *zitiSide, o zitiObject[S]) (string, error)
	// update brings the existing object have to want's spec.
	update(ctx context.Context, z *zitiSide, have, want zitiObject[S]) error
	// remove deletes the existing object o.
	remove(ctx context.Context, z *zitiSide, o zitiObject[S]) error
}

// deleteStager is implemented by a kind whose objects are not all deleted
// in the kind's place in zitiDeleteOrder.
type deleteStager[S any] interface {
	deleteStage(o zitiObject[S]) int
}

// kindPlan is what comparing the desired objects of one kind with the
// existing ones calls for.
type kindPlan[S zitiSpec[S]] struct {
	creates []zitiObject[S]
	updates []kindUpdate[S]
	deletes []zitiObject[S]
}

// kindUpdate pairs an existing object with the desired state it must be
// brought to, and says what differs.
type kindUpdate[S zitiSpec[S]] struct {
	want, have zitiObject[S]
	diffs      fieldDiffs
}

// diffKind compares the desired objects of one kind with the existing ones.
// A desired object without an existing one of its name is created; one
// whose managed fields differ is updated; a managed existing object that
// is not desired is deleted. An existing object that ztedge does not
// manage but whose name a desired object needs is a conflict: ztedge never
// takes over objects it did not create.
func diffKind[S zitiSpec[S]](kind string, desired, existing []zitiObject[S]) (kindPlan[S], error) {
	var p kindPlan[S]
	byName := make(map[string]zitiObject[S], len(existing))
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
			p.creates = append(p.creates, o)
		case !e.Managed:
			conflicts = append(conflicts, o.Name)
		default:
			if d := o.Spec.diff(e.Spec); len(d) > 0 {
				p.updates = append(p.updates, kindUpdate[S]{want: o, have: e, diffs: d})
			}
		}
	}
	for _, e := range existing {
		if e.Managed && !want[e.Name] {
			p.deletes = append(p.deletes, e)
		}
	}
	sort.Slice(p.deletes, func(i, j int) bool { return p.deletes[i].Name < p.deletes[j].Name })
	if len(conflicts) > 0 {
		return p, fmt.Errorf("%s %s already exists and was not created by ztedge (no %s tag); rename or remove it",
			kind, quoteList(conflicts), ManagedTag)
	}
	return p, nil
}

// changes turns a kind's plan into plan changes: creates and updates in
// stage upsert, deletes in stage del.
func (p kindPlan[S]) changes(z *zitiSide, k zitiKind[S], upsert int) (upserts, deletes []Change) {
	kind := k.kind()
	del := zitiDeleteStage(kind)
	for _, o := range p.creates {
		upserts = append(upserts, Change{Op: OpCreate, Kind: kind, Name: o.Name, stage: upsert,
			apply: func(ctx context.Context) error {
				id, err := k.create(ctx, z, o)
				if err != nil {
					return rest_util.WrapErr(err)
				}
				z.remember(kind, o.Name, id)
				return nil
			}})
	}
	for _, u := range p.updates {
		upserts = append(upserts, Change{Op: OpUpdate, Kind: kind, Name: u.want.Name, Detail: u.diffs.detail(), stage: upsert,
			apply: func(ctx context.Context) error { return rest_util.WrapErr(k.update(ctx, z, u.have, u.want)) }})
	}
	stager, _ := k.(deleteStager[S])
	for _, o := range p.deletes {
		stage := del
		if stager != nil {
			stage = stager.deleteStage(o)
		}
		deletes = append(deletes, Change{Op: OpDelete, Kind: kind, Name: o.Name, stage: stage,
			apply: func(ctx context.Context) error { return rest_util.WrapErr(k.remove(ctx, z, o)) }})
	}
	return upserts, deletes
}

// managedTags are the tags every ztedge-created Ziti object carries.
func managedTags() *rest_model.Tags {
	return &rest_model.Tags{SubTags: rest_model.SubTags{ManagedTag: ManagedValue}}
}

// isManaged reports whether tags carry ztedge's tag.
func isManaged(tags *rest_model.Tags) bool {
	if tags == nil {
		return false
	}
	switch v := tags.SubTags[ManagedTag].(type) {
	case string:
		return v == ManagedValue
	case bool:
		return v
	}
	return false
}

// pageSize is how many objects one list request asks for.
const pageSize = 500

// page fetches every page of a list call.
func page[T any](fetch func(limit, offset int64) ([]T, error)) ([]T, error) {
	var all []T
	for offset := int64(0); ; offset += pageSize {
		items, err := fetch(pageSize, offset)
		if err != nil {
			return nil, rest_util.WrapErr(err)
		}
		all = append(all, items...)
		if len(items) < pageSize {
			return all, nil
		}
	}
}

// str dereferences an optional string.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// isTrue dereferences an optional bool.
func isTrue(p *bool) bool { return p != nil && *p }

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// roles diffs a set of role strings, showing what is added and removed.
func (d *fieldDiffs) roles(field string, have, want []string) {
	h, w := normSet(have), normSet(want)
	if sameSet(h, w) {
		return
	}
	var add, del []string
	for _, r := range w {
		if !containsSorted(h, r) {
			add = append(add, "+"+r)
		}
	}
	for _, r := range h {
		if !containsSorted(w, r) {
			del = append(del, "-"+r)
		}
	}
	all := append(add, del...)
	const shown = 6
	if len(all) > shown {
		all = append(all[:shown], fmt.Sprintf("and %d more", len(all)-shown))
	}
	*d = append(*d, field+": "+strings.Join(all, " "))
}

// containsSorted reports whether the sorted list l holds s.
func containsSorted(l []string, s string) bool {
	i := sort.SearchStrings(l, s)
	return i < len(l) && l[i] == s
}
