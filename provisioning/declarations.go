package provisioning

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ztedge/ztedge/internal/configfile"
)

// LoadDeclarations reads a topology file for what it declares (services,
// clients, groups and dial rules) and validates only that, for pictures of
// it: where Vault and the controller are does not matter, so no
// environment variable needs to be set. ${VAR} references are not expanded
// (the settings that use them are not read); a declaration that holds one
// is reported as invalid. Like [LoadFile], it refuses a file larger than
// [configfile.MaxSize].
func LoadDeclarations(path string) (_ *Topology, err error) {
	defer prefixErr(&err)
	raw, err := configfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	doc, err := decodeOne(raw)
	if err != nil {
		return nil, inTopology(path, err)
	}
	dropSettingRefs(doc)
	t, err := decodeStrict(doc)
	if err != nil {
		return nil, inTopology(path, err)
	}
	t.SetDefaults()
	if err := t.ValidateDeclarations(); err != nil {
		return nil, inTopology(path, err)
	}
	return t, nil
}

// dropSettingRefs makes every value that holds a ${VAR} reference null
// (its default), except the names and groups of services and clients, the
// names, routers and dialers of dependencies and the dial rules' entries,
// which stay as written and are reported as invalid: settings such as
// jwt.ttl: ${JWT_TTL} or a service's port: ${PORT} are not read, and must
// not fail to decode.
func dropSettingRefs(doc *yaml.Node) {
	var null func(n *yaml.Node)
	null = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && envRef.MatchString(n.Value) {
			n.Tag, n.Value, n.Style = "!!null", "", 0
		}
		for _, c := range n.Content {
			null(c)
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return // decoding says what is wrong
	}
	root := doc.Content[0].Content
	for i := 0; i+1 < len(root); i += 2 {
		switch key, value := root[i].Value, root[i+1]; key {
		case "dial":
		case "services", "clients", "dependencies":
			drawn := declaredFields[key]
			for _, item := range value.Content {
				if item.Kind != yaml.MappingNode {
					continue
				}
				for j := 0; j+1 < len(item.Content); j += 2 {
					if !slices.Contains(drawn, item.Content[j].Value) {
						null(item.Content[j+1])
					}
				}
			}
		default:
			null(value)
		}
	}
}

// declaredFields are the fields of list items that a picture draws: they
// are read as written, and their problems reported.
var declaredFields = map[string][]string{
	"services":     {"name", "groups"},
	"clients":      {"name", "groups"},
	"dependencies": {"name", "router", "dialers"},
}

// ValidateDeclarations reports the problems [Topology.Validate] finds in
// the services, clients, groups, dependencies and dial rules, and none
// about the settings.
func (t *Topology) ValidateDeclarations() error {
	err := t.Validate()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	var kept []string
	for _, p := range verr.Problems {
		if declarationProblem(p) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &ValidationError{Problems: kept}
}

// declarationProblem reports whether a validation problem is about what a
// picture draws: a service, a client, a dial rule, or the name, router or
// dialers of a dependency.
func declarationProblem(p string) bool {
	for _, field := range []string{"services", "clients", "dial"} {
		if strings.HasPrefix(p, field+"[") || strings.HasPrefix(p, field+":") {
			return true
		}
	}
	if rest, ok := strings.CutPrefix(p, "dependencies["); ok {
		if _, field, ok := strings.Cut(rest, "]."); ok {
			for _, f := range declaredFields["dependencies"] {
				if strings.HasPrefix(field, f) {
					return true
				}
			}
		}
	}
	return false
}
