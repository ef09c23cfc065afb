package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var t Topology
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the file is empty")
		}
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	t.SetDefaults()
	if err := t.ValidateDeclarations(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return &t, nil
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
