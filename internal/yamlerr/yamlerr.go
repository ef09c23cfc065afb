// Package yamlerr says what is wrong with a configuration file in the
// words of the people who write it. go.yaml.in/yaml/v3 reports a field or
// a value of the wrong shape with Go's type names ("field nmae not found in
// type provisioning.Service", "cannot unmarshal !!str `core` into
// []string"); [Rewrite] turns each such line into one that names the
// value's place in the file and what it must be ("line 7: unknown field
// "nmae" in services[0] (a service)", "line 9: services[1].groups: "core"
// must be a list (write [core] or a "- core" item)"), keeping "line N:".
//
// It is a leaf: it imports nothing of ztedge's.
package yamlerr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxShown is the longest value an error repeats whole.
const maxShown = 20

// errEmpty is Decode's error for a file without a document.
var errEmpty = errors.New("the file is empty")

// ErrSecondDocument is Decode's error for a file holding more than one
// YAML document: a second one would be ignored, silently.
var ErrSecondDocument = errors.New("the file holds more than one YAML document (a second one starts with ---)")

// Decode decodes the one YAML document of raw into out, a pointer,
// refusing unknown fields. A file without a document or with a second one
// is an error, and type errors are rewritten as [Rewrite] does, with
// names.
func Decode(raw []byte, out any, names map[string]string) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err := dec.Decode(out)
	switch {
	case err == nil:
		var next yaml.Node
		if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
			if err != nil {
				return err
			}
			return ErrSecondDocument
		}
		return nil
	case errors.Is(err, io.EOF):
		return errEmpty
	}
	var doc yaml.Node
	if yaml.Unmarshal(raw, &doc) != nil {
		return Rewrite(err, nil, out, names)
	}
	return Rewrite(err, &doc, out, names)
}

// Rewrite returns err, a *yaml.TypeError from decoding into out, with each
// of its lines in the file's words; any other error is returned as it is.
// doc, the document as a node tree (nil when not at hand), tells the path
// of the value at fault (e.g. services[1].groups) and its whole text, which
// yaml cuts after seven characters. out, the value decoded into (or a
// pointer to it), tells what each type is: a list, a mapping, a number...
// names maps the Go types yaml prints, such as "provisioning.Service", to
// what the file's readers call them, such as "a service"; they are used
// where the path alone says little, and Go type names never appear.
//
// The result unwraps to err, and its text is its one line, or a list
// of them.
func Rewrite(err error, doc *yaml.Node, out any, names map[string]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	r := &rewriter{types: map[string]reflect.Type{}, names: names}
	var root reflect.Type
	if out != nil {
		root = reflect.TypeOf(out)
		r.learn(root)
	}
	if doc != nil {
		r.index(doc, "", false, root)
	}
	lines := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		lines[i] = r.rewrite(e)
	}
	return &typeError{lines: lines, cause: err}
}

// typeError is a rewritten *yaml.TypeError.
type typeError struct {
	lines []string
	cause error
}

func (e *typeError) Error() string {
	if len(e.lines) == 1 {
		return e.lines[0]
	}
	return fmt.Sprintf("%d problems:\n  - %s", len(e.lines), strings.Join(e.lines, "\n  - "))
}

func (e *typeError) Unwrap() error { return e.cause }

// rewriter rewrites the lines of one type error.
type rewriter struct {
	types map[string]reflect.Type // by the name yaml prints
	names map[string]string
	nodes []placed // in document order
}

// placed is a node of the document and where it is.
type placed struct {
	node *yaml.Node
	path string       // of the value; for a key, of the mapping holding it
	key  bool         // a mapping's key
	typ  reflect.Type // what the value decodes into; nil when not known
}

// learn records t and every type reachable from it.
func (r *rewriter) learn(t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, seen := r.types[t.String()]; seen {
		return
	}
	r.types[t.String()] = t
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			r.learn(t.Field(i).Type)
		}
	case reflect.Slice, reflect.Array:
		r.learn(t.Elem())
	case reflect.Map:
		r.learn(t.Key())
		r.learn(t.Elem())
	}
}

// index records n and the nodes below it, n being at path and decoding
// into t (nil when not known).
func (r *rewriter) index(n *yaml.Node, path string, key bool, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	r.nodes = append(r.nodes, placed{node: n, path: path, key: key, typ: t})
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			r.index(c, path, false, t)
		}
	case yaml.SequenceNode:
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i, c := range n.Content {
			r.index(c, fmt.Sprintf("%s[%d]", path, i), false, elem)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			r.index(k, path, true, t)
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			r.index(n.Content[i+1], child, false, valueType(t, k.Value))
		}
	}
}

// valueType is the type the value of key decodes into in a mapping that
// decodes into t: a struct's field, as yaml names it, or a map's element.
func valueType(t reflect.Type, key string) reflect.Type {
	switch {
	case t == nil:
		return nil
	case t.Kind() == reflect.Map:
		return t.Elem()
	case t.Kind() != reflect.Struct:
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case strings.Contains(","+flags+",", ",inline,"):
			if ft := valueType(f.Type, key); ft != nil {
				return ft
			}
		case name == key || (name == "" && strings.ToLower(f.Name) == key):
			return f.Type
		}
	}
	return nil
}

// The lines of yaml's type errors that Rewrite rewrites.
var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
	fieldTwiceRE   = regexp.MustCompile(`^line (\d+): field (.+) already set in type (\S+)$`)
	collectionRE   = regexp.MustCompile(`^line (\d+): cannot unmarshal (!!seq|!!map) into (.+)$`)
	scalarRE       = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+) `(.*)` into (.+)$")
	keyTwiceRE     = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
)

// rewrite rewrites one line; a line it does not know is kept.
func (r *rewriter) rewrite(e string) string {
	if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: unknown field %q%s", m[1], m[2], r.in(m[1], m[2], m[3]))
	}
	if m := fieldTwiceRE.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: field %q is set twice%s", m[1], m[2], r.in(m[1], m[2], m[3]))
	}
	if m := keyTwiceRE.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("line %s: key %s is given twice (first at line %s)", m[1], m[2], m[3])
	}
	if m := collectionRE.FindStringSubmatch(e); m != nil {
		kind := yaml.SequenceNode
		if m[2] == "!!map" {
			kind = yaml.MappingNode
		}
		subject := "the value"
		if p, ok := r.value(m[1], kind, "", m[3]); ok && p.path != "" {
			subject = p.path
		} else if w := r.names[m[3]]; w != "" {
			subject = w
		}
		return fmt.Sprintf("line %s: %s %s", m[1], subject, collectionProblem(kind, r.shape(m[3])))
	}
	if m := scalarRE.FindStringSubmatch(e); m != nil {
		shown := m[3]
		path, value := "", shown
		_, cut := shortened(shown)
		whole := !cut
		if p, ok := r.value(m[1], yaml.ScalarNode, shown, m[4]); ok {
			path, value, whole = p.path, p.node.Value, true
		}
		problem := scalarProblem(value, whole, r.shape(m[4]))
		if path != "" {
			return fmt.Sprintf("line %s: %s: %s", m[1], path, problem)
		}
		return fmt.Sprintf("line %s: %s", m[1], problem)
	}
	return e
}

// in says where a field is: " in services[0] (a service)", " in the
// topology", or "" when nothing is known. line and field locate the key;
// typ is the Go type of the mapping holding it.
func (r *rewriter) in(line, field, typ string) string {
	path := ""
	for _, p := range r.nodes {
		if p.key && strconv.Itoa(p.node.Line) == line && p.node.Value == field {
			path = p.path
			break
		}
	}
	word := r.names[typ]
	switch {
	case path != "" && word != "":
		return " in " + path + " (" + word + ")"
	case path != "":
		return " in " + path
	case word != "":
		return " in " + word
	}
	return ""
}

// value finds the value node on line of kind that decodes into the type
// yaml printed as typ, or failing that one whose type is not known. For a
// scalar, shown is the text yaml printed, which it may have cut.
func (r *rewriter) value(line string, kind yaml.Kind, shown, typ string) (placed, bool) {
	prefix, cut := shortened(shown)
	var guess *placed
	for i, p := range r.nodes {
		n := p.node
		if p.key || strconv.Itoa(n.Line) != line || n.Kind != kind {
			continue
		}
		if kind == yaml.ScalarNode && n.Value != shown && (!cut || len(n.Value) <= 10 || !strings.HasPrefix(n.Value, prefix)) {
			continue
		}
		switch {
		case p.typ != nil && p.typ.String() == typ:
			return p, true
		case guess == nil:
			guess = &r.nodes[i]
		}
	}
	if guess == nil {
		return placed{}, false
	}
	return *guess, true
}

// shortened reports whether shown may be a value yaml cut, which it shows
// as its first seven characters and "...", and returns those seven.
func shortened(shown string) (prefix string, cut bool) {
	if len(shown) == 10 && strings.HasSuffix(shown, "...") {
		return shown[:7], true
	}
	return shown, false
}

// shape is what a Go type holds, in the file's terms.
type shape int

const (
	unknownShape shape = iota
	listShape
	mappingShape
	textShape
	numberShape
	booleanShape
	durationShape
)

var durationType = reflect.TypeOf(time.Duration(0))

// shape tells what the type yaml printed as typ holds.
func (r *rewriter) shape(typ string) shape {
	t, ok := r.types[typ]
	if !ok {
		return builtinShape(typ)
	}
	if t == durationType {
		return durationShape
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return listShape
	case reflect.Map, reflect.Struct:
		return mappingShape
	case reflect.String:
		return textShape
	case reflect.Bool:
		return booleanShape
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return numberShape
	}
	return unknownShape
}

// builtinShape tells the shape of a type not reachable from the value
// decoded into, by its name.
func builtinShape(typ string) shape {
	switch {
	case strings.HasPrefix(typ, "["):
		return listShape
	case strings.HasPrefix(typ, "map["), strings.HasPrefix(typ, "struct {"):
		return mappingShape
	case typ == "time.Duration":
		return durationShape
	case typ == "string":
		return textShape
	case typ == "bool":
		return booleanShape
	case typ == "float32" || typ == "float64" || strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
		return numberShape
	}
	return unknownShape
}

// collectionProblem says what is wrong with a list or a mapping (kind)
// where want is expected.
func collectionProblem(kind yaml.Kind, want shape) string {
	given := "a list"
	if kind == yaml.MappingNode {
		given = "a mapping"
	}
	switch want {
	case listShape:
		return "must be a list, not " + given
	case mappingShape:
		return "must be a mapping, not " + given
	case unknownShape:
		return "must not be " + given
	}
	return "must be a single value, not " + given
}

// scalarProblem says what is wrong with the single value value where
// want is expected. whole is false when value is only the start of the
// value.
func scalarProblem(value string, whole bool, want shape) string {
	if len(value) > maxShown {
		// A long value may be a secret (a token from ${VAR}): show its
		// start only.
		value, whole = strings.ToValidUTF8(value[:6], "")+"…", false
	}
	q := strconv.Quote(value)
	switch want {
	case listShape:
		if !whole {
			return q + " must be a list (write [value] or a \"- value\" item)"
		}
		return fmt.Sprintf("%s must be a list (write [%s] or a \"- %s\" item)", q, value, value)
	case mappingShape:
		return q + " must be a mapping, not a single value"
	case numberShape:
		return q + " must be a number"
	case booleanShape:
		return q + " must be true or false"
	case durationShape:
		return q + " must be a duration such as 90s, 30m or 1h"
	case textShape:
		return q + " must be plain text"
	}
	return q + " is not valid here"
}
