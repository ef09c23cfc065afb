package vault

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeconds(t *testing.T) {
	cases := []struct {
		in   any
		want int64
	}{
		{json.Number("3600"), 3600},
		{json.Number("1.5e3"), 1500},
		{float64(60), 60},
		{int(7), 7},
		{"1h", 3600},
		{"90", 90},
		{"", 0},
		{nil, 0},
	}
	for _, c := range cases {
		got, err := Seconds(c.in)
		require.NoError(t, err, "%#v", c.in)
		assert.Equal(t, c.want, got, "%#v", c.in)
	}
	_, err := Seconds("soon")
	assert.Error(t, err)
	_, err = Seconds(true)
	assert.Error(t, err)
}

func TestStringsAndBool(t *testing.T) {
	assert.Equal(t, []string{"x", "y"}, Strings([]any{"x", "y"}))
	assert.Equal(t, []string{"a", "b"}, Strings("a, b"))
	assert.Nil(t, Strings(""))
	assert.True(t, Bool("true"))
	assert.True(t, Bool(true))
	assert.False(t, Bool("no"))
	assert.Equal(t, "", String(7))
}

func TestParseEntity(t *testing.T) {
	e := ParseEntity(map[string]any{
		"id":       "e1",
		"name":     "svc-a",
		"policies": []any{"ztedge-svc-a"},
		"metadata": map[string]any{"ztedge-managed": "true"},
		"disabled": false,
		"aliases": []any{
			map[string]any{"id": "a1", "name": "rid", "mount_accessor": "auth_approle_1", "canonical_id": "e1"},
			map[string]any{"id": "a2", "name": "bob", "mount_accessor": "auth_userpass_1"},
		},
	})
	assert.Equal(t, "e1", e.ID)
	assert.Equal(t, "true", e.Metadata["ztedge-managed"])
	require.Len(t, e.Aliases, 2)
	assert.Equal(t, "e1", e.Aliases[1].CanonicalID, "an entity's alias belongs to it")
	got := e.AliasesOn("auth_approle_1")
	require.Len(t, got, 1)
	assert.Equal(t, "a1", got[0].ID)
	assert.Empty(t, ParseEntity(map[string]any{"name": "x", "metadata": nil}).Metadata)
}
