package provisioning

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadDeclarations reads a topology file for what it declares (services,
// clients, groups and dial rules) and validates only that, for pictures of
// it: where Vault and the controller are does not matter, so no
// environment variable needs to be set. ${VAR} references are not expanded
// (the settings that use them are not read); a declaration that holds one
// is reported as invalid.
func LoadDeclarations(path string) (_ *Topology, err error) {
	defer prefixErr(&err)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	doc, err := decodeOne(raw)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	dropSettingRefs(doc)
	t, err := decodeStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	t.SetDefaults()
	if err := t.ValidateDeclarations(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}

// dropSettingRefs makes every value that holds a ${VAR} reference null
// (its default), except the names and groups of services and clients and
// the dial rules' entries, which stay as written and are reported as
// invalid: settings such as jwt.ttl: ${JWT_TTL} or a service's
// port: ${PORT} are not read, and must not fail to decode.
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
		case "services", "clients":
			for _, item := range value.Content {
				if item.Kind != yaml.MappingNode {
					continue
				}
				for j := 0; j+1 < len(item.Content); j += 2 {
					if k := item.Content[j].Value; k != "name" && k != "groups" {
						null(item.Content[j+1])
					}
				}
			}
		default:
			null(value)
		}
	}
}

// ValidateDeclarations reports the problems [Topology.Validate] finds in
// the services, clients, groups and dial rules, and none about the
// settings.
func (t *Topology) ValidateDeclarations() error {
	err := t.Validate()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	var kept []string
	for _, p := range verr.Problems {
		for _, field := range []string{"services", "clients", "dial"} {
			if strings.HasPrefix(p, field+"[") || strings.HasPrefix(p, field+":") {
				kept = append(kept, p)
				break
			}
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &ValidationError{Problems: kept}
}
