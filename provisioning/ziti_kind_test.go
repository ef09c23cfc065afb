package provisioning

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSpec is a spec of one string field, for testing diffKind.
type testSpec struct{ A string }

func (want testSpec) diff(have testSpec) fieldDiffs {
	var d fieldDiffs
	d.str("a", have.A, want.A)
	return d
}

func obj(name string, managed bool, a string) zitiObject[testSpec] {
	return zitiObject[testSpec]{Name: name, ID: "id-" + name, Managed: managed, Spec: testSpec{A: a}}
}

func TestDiffKind(t *testing.T) {
	desired := []zitiObject[testSpec]{obj("new", false, "1"), obj("same", false, "1"), obj("changed", false, "2")}
	existing := []zitiObject[testSpec]{
		obj("same", true, "1"), obj("changed", true, "1"), obj("stale-b", true, "1"), obj("stale-a", true, ""), obj("hand-made", false, "1"),
	}
	p, err := diffKind("ziti thing", desired, existing)
	require.NoError(t, err)
	require.Len(t, p.creates, 1)
	assert.Equal(t, "new", p.creates[0].Name)
	require.Len(t, p.updates, 1)
	assert.Equal(t, "changed", p.updates[0].want.Name)
	assert.Equal(t, "id-changed", p.updates[0].have.ID)
	assert.Equal(t, `a: "1" -> "2"`, p.updates[0].diffs.detail())
	require.Len(t, p.deletes, 2)
	assert.Equal(t, "stale-a", p.deletes[0].Name, "deletes are sorted")
	assert.Equal(t, "stale-b", p.deletes[1].Name)
}

func TestDiffKindIsEmptyWhenConverged(t *testing.T) {
	p, err := diffKind("ziti thing", []zitiObject[testSpec]{obj("x", false, "1")},
		[]zitiObject[testSpec]{obj("x", true, "1"), obj("foreign", false, "")})
	require.NoError(t, err)
	assert.Empty(t, p.creates)
	assert.Empty(t, p.updates)
	assert.Empty(t, p.deletes, "objects ztedge did not create are never deleted")
}

func TestDiffKindRefusesToTakeOverForeignObjects(t *testing.T) {
	_, err := diffKind("ziti identity", []zitiObject[testSpec]{obj("core-data", false, "")}, []zitiObject[testSpec]{obj("core-data", false, "")})
	assert.ErrorContains(t, err, `ziti identity "core-data" already exists and was not created by ztedge`)
}

func TestRolesDiffShowsAddedAndRemoved(t *testing.T) {
	var d fieldDiffs
	d.roles("identityRoles", []string{"@a", "@b"}, []string{"@b", "@c"})
	assert.Equal(t, "identityRoles: +@c -@a", d.detail())
	d = nil
	d.roles("identityRoles", []string{"@b", "@a"}, []string{"@a", "@b", "@a"})
	assert.Empty(t, d)
	d = nil
	var many []string
	for _, c := range "abcdefghij" {
		many = append(many, "@"+string(c))
	}
	d.roles("identityRoles", nil, many)
	assert.Equal(t, "identityRoles: +@a +@b +@c +@d +@e +@f and 4 more", d.detail())
}
