package provisioning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func obj(name string, managed bool, kv ...string) object {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return object{Name: name, ID: "id-" + name, Managed: managed, Fields: f}
}

func TestDiffObjects(t *testing.T) {
	desired := []object{
		obj("new", false, "a", "1"),
		obj("same", false, "a", "1"),
		obj("changed", false, "a", "2", "b", "x"),
	}
	existing := []object{
		obj("same", true, "a", "1", "unmanaged-field", "ignored"),
		obj("changed", true, "a", "1", "b", "x"),
		obj("stale-b", true, "a", "1"),
		obj("stale-a", true),
		obj("hand-made", false, "a", "1"),
	}
	d, err := diffObjects("ziti thing", desired, existing)
	require.NoError(t, err)
	require.Len(t, d.Creates, 1)
	assert.Equal(t, "new", d.Creates[0].Name)
	require.Len(t, d.Updates, 1)
	assert.Equal(t, "changed", d.Updates[0].Desired.Name)
	assert.Equal(t, "id-changed", d.Updates[0].Existing.ID)
	assert.Equal(t, []string{"a"}, d.Updates[0].Changed)
	require.Len(t, d.Deletes, 2)
	assert.Equal(t, "stale-a", d.Deletes[0].Name, "deletes are sorted")
	assert.Equal(t, "stale-b", d.Deletes[1].Name)
}

func TestDiffObjectsIsEmptyWhenConverged(t *testing.T) {
	desired := []object{obj("x", false, "a", "1")}
	existing := []object{obj("x", true, "a", "1"), obj("foreign", false)}
	d, err := diffObjects("ziti thing", desired, existing)
	require.NoError(t, err)
	assert.Empty(t, d.Creates)
	assert.Empty(t, d.Updates)
	assert.Empty(t, d.Deletes, "objects ztedge did not create are never deleted")
}

func TestDiffObjectsRefusesToTakeOverForeignObjects(t *testing.T) {
	_, err := diffObjects("ziti identity", []object{obj("core-data", false)}, []object{obj("core-data", false)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ziti identity "core-data" already exists and was not created by ztedge`)
}

func TestJoinSorted(t *testing.T) {
	assert.Equal(t, "a,b,c", joinSorted([]string{"c", "a", "b", "a"}))
	assert.Equal(t, "", joinSorted(nil))
	assert.Equal(t, []string{"a", "b"}, splitField("a,b"))
	assert.Nil(t, splitField(""))
}

func TestPlanSummaryAndOutput(t *testing.T) {
	p := &Plan{Changes: []Change{
		{Op: OpCreate, Kind: "ziti identity", Name: "a"},
		{Op: OpUpdate, Kind: "ziti service", Name: "edgex.a", Detail: "configs differ"},
		{Op: OpDelete, Kind: "vault policy", Name: "ztedge-b"},
	}}
	assert.Equal(t, "1 to create, 1 to update, 1 to delete", p.Summary())
	var b strings.Builder
	_, err := p.WriteTo(&b)
	require.NoError(t, err)
	assert.Contains(t, b.String(), "update ziti service edgex.a (configs differ)")
	empty := &Plan{}
	b = strings.Builder{}
	_, _ = empty.WriteTo(&b)
	assert.Contains(t, b.String(), "No changes")
}
