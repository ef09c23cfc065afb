package yamlerr

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type options map[string]string

type item struct {
	Name    string        `yaml:"name"`
	Groups  []string      `yaml:"groups"`
	Port    int           `yaml:"port"`
	Enabled bool          `yaml:"enabled"`
	Ratio   float64       `yaml:"ratio"`
	Wait    time.Duration `yaml:"wait"`
	Options options       `yaml:"options"`
}

type file struct {
	Items []item `yaml:"items"`
	Title string `yaml:"title"`
}

var words = map[string]string{"yamlerr.file": "the file", "yamlerr.item": "an item", "yamlerr.options": "options"}

func TestDecode(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field in a list item", "items:\n  - name: a\n    nmae: b\n",
			`line 3: unknown field "nmae" in items[0] (an item)`},
		{"unknown top-level field", "title: t\nitemz: []\n",
			`line 2: unknown field "itemz" in the file`},
		{"single value for a list", "items:\n  - name: a\n    groups: core\n",
			`line 3: items[0].groups: "core" must be a list (write [core] or a "- core" item)`},
		{"long single value for a list", "items:\n  - groups: a-rather-long-group\n",
			`line 2: items[0].groups: "a-rather-long-group" must be a list (write [a-rather-long-group] or a "- a-rather-long-group" item)`},
		{"list for a mapping", "items:\n  - options:\n      - a\n",
			`line 3: items[0].options must be a mapping, not a list`},
		{"flow list for a mapping", "items:\n  - options: [a]\n",
			`line 2: items[0].options must be a mapping, not a list`},
		{"mapping for a single value", "title:\n  x: 1\n",
			`line 2: title must be a single value, not a mapping`},
		{"flow mapping for a single value, a list inside", "title: {x: [1]}\n",
			`line 1: title must be a single value, not a mapping`},
		{"list for a single value", "title: [a, b]\n",
			`line 1: title must be a single value, not a list`},
		{"mapping for a list", "items:\n  name: a\n",
			`line 2: items must be a list, not a mapping`},
		{"text for a number", "items:\n  - port: eighty\n",
			`line 2: items[0].port: "eighty" must be a number`},
		{"text for a fraction", "items:\n  - ratio: half\n",
			`line 2: items[0].ratio: "half" must be a number`},
		{"text for a boolean", "items:\n  - enabled: maybe\n",
			`line 2: items[0].enabled: "maybe" must be true or false`},
		{"bad duration", "items:\n  - wait: soon\n",
			`line 2: items[0].wait: "soon" must be a duration such as 90s, 30m or 1h`},
		{"single value for a list item", "items:\n  - core-data\n",
			`line 2: items[0]: "core-data" must be a mapping, not a single value`},
		{"list for the whole file", "- a\n",
			`line 1: the file must be a mapping, not a list`},
		{"key twice", "title: a\ntitle: b\n",
			`line 2: key "title" is given twice (first at line 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f file
			err := Decode([]byte(tc.yaml), &f, words)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			for _, goName := range []string{"yamlerr.", "[]string", "map[", "!!", "unmarshal"} {
				assert.NotContains(t, err.Error(), goName)
			}
			var te *yaml.TypeError
			assert.True(t, errors.As(err, &te), "the rewritten error unwraps to yaml's")
		})
	}
}

func TestDecodeSeveralProblems(t *testing.T) {
	var f file
	err := Decode([]byte("items:\n  - port: x\n    enabled: maybe\n"), &f, nil)
	require.Error(t, err)
	assert.Equal(t, "2 problems:\n"+
		`  - line 2: items[0].port: "x" must be a number`+"\n"+
		`  - line 3: items[0].enabled: "maybe" must be true or false`, err.Error())
}

func TestDecodeEmpty(t *testing.T) {
	var f file
	assert.EqualError(t, Decode(nil, &f, nil), "the file is empty")
	assert.EqualError(t, Decode([]byte("# nothing\n"), &f, nil), "the file is empty")
	require.NoError(t, Decode([]byte("title: t\n"), &f, nil))
	assert.Equal(t, "t", f.Title)
}

// decodeErr decodes raw into a file, refusing unknown fields, as yaml does.
func decodeErr(t *testing.T, raw string) error {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.KnownFields(true)
	var f file
	err := dec.Decode(&f)
	require.Error(t, err)
	return err
}

func TestRewriteWithoutDocument(t *testing.T) {
	// Without the node tree, no paths and cut values, but still no Go
	// type names.
	err := Rewrite(decodeErr(t, "items:\n  - groups: a-rather-long-group\n    nmae: x\n  - options: [a]\n"), nil, file{}, words)
	assert.Equal(t, "3 problems:\n"+
		`  - line 2: "a-rathe..." must be a list (write [value] or a "- value" item)`+"\n"+
		`  - line 3: unknown field "nmae" in an item`+"\n"+
		`  - line 4: options must be a mapping, not a list`, err.Error())
}

func TestRewriteWithoutNames(t *testing.T) {
	err := Rewrite(decodeErr(t, "itemz: 1\n"), nil, nil, nil)
	assert.Equal(t, `line 1: unknown field "itemz"`, err.Error())
	// Types not reachable from out are told by their names where yaml's
	// own types are concerned.
	err = Rewrite(decodeErr(t, "title: [a]\nitems: [{port: x}]\n"), nil, nil, nil)
	assert.Equal(t, "2 problems:\n"+
		`  - line 1: the value must be a single value, not a list`+"\n"+
		`  - line 2: "x" must be a number`, err.Error())
}

func TestRewriteKeepsOtherErrors(t *testing.T) {
	assert.Nil(t, Rewrite(nil, nil, nil, nil))
	assert.Same(t, io.ErrUnexpectedEOF, Rewrite(io.ErrUnexpectedEOF, nil, nil, nil))
	syntax := yaml.Unmarshal([]byte("a: [b"), &file{})
	require.Error(t, syntax)
	assert.Equal(t, syntax, Rewrite(syntax, nil, nil, nil))
	// Lines it does not know (an UnmarshalYAML's own) stay as they are.
	own := &yaml.TypeError{Errors: []string{`line 4: "1x" is not a duration`}}
	assert.EqualError(t, Rewrite(own, nil, nil, nil), `line 4: "1x" is not a duration`)
}

func TestDecodeRefusesASecondDocument(t *testing.T) {
	var out struct{ A int }
	require.NoError(t, Decode([]byte("a: 1\n"), &out, nil))
	err := Decode([]byte("a: 1\n---\na: 2\n"), &out, nil)
	require.ErrorIs(t, err, ErrSecondDocument)
}

func TestLongValuesAreNotRepeated(t *testing.T) {
	var out struct {
		Vault struct{ Address string } `yaml:"vault"`
	}
	err := Decode([]byte("vault: hvs.CAESIJsupersecretvaulttokenvalue\n"), &out, nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "supersecret", "a long value, maybe a token, is repeated whole")
	require.Contains(t, err.Error(), `"hvs.CA…" must be a mapping`)
}
