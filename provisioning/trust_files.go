package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// kindTrustFile is the plan's name of a CA bundle written next to a
// service's credentials file.
const kindTrustFile = "trust file"

// planTrustFiles plans the CA bundles next to each service's credentials,
// so that the service trusts the controller and Vault the provisioner
// trusted, from its first start (no trust on first use on the network):
// the controller's bundle (ziti.caCert, or the bundle provisioning pinned)
// and Vault's CA (vault.caCert; removed when the topology names none). A
// service's credentials folder, and with it these files, goes when the
// service leaves the topology.
func planTrustFiles(t *Topology) ([]Change, error) {
	ctrlFile := t.Ziti.CACert
	if ctrlFile == "" {
		ctrlFile = filepath.Join(t.Output, ControllerCAPinFile)
	}
	ctrl, err := configfile.Read(ctrlFile)
	if err != nil {
		return nil, fmt.Errorf("the controller's CA bundle: %w", err)
	}
	var vaultCA []byte
	if t.Vault.CACert != "" {
		if vaultCA, err = configfile.Read(t.Vault.CACert); err != nil {
			return nil, fmt.Errorf("vault.caCert: %w", err)
		}
	}
	var changes []Change
	for _, s := range t.Services {
		creds := credentials.Path(t.Output, s.Name)
		for _, f := range []struct {
			name, what string
			want       []byte
		}{
			{credentials.ControllerCAFileName, "the controller's CA bundle", ctrl},
			{credentials.VaultCAFileName, "Vault's CA", vaultCA},
		} {
			c, err := trustFile(t.Output, s.Name, credentials.NextTo(creds, f.name), f.want, f.what)
			if err != nil {
				return nil, err
			}
			changes = append(changes, c...)
		}
	}
	return changes, nil
}

// trustFile plans one CA bundle of a service: written when missing or
// different, removed when want is nil.
func trustFile(output, service, path string, want []byte, what string) ([]Change, error) {
	have, err := configfile.Read(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, fmt.Errorf("%s of %s: %w", what, service, err)
	}
	name := service + "/" + filepath.Base(path)
	switch {
	case want == nil && missing:
		return nil, nil
	case want == nil:
		return []Change{{Op: OpDelete, Kind: kindTrustFile, Name: name, Detail: "the topology names no " + what,
			apply: func(context.Context) error {
				return removeOutputFiles(output, []string{"services", service}, filepath.Base(path))
			}}}, nil
	case !missing && bytes.Equal(have, want):
		return nil, nil
	}
	op, detail := OpUpdate, what+" changed"
	if missing {
		op, detail = OpCreate, what
	}
	return []Change{{Op: op, Kind: kindTrustFile, Name: name, Detail: detail,
		apply: func(context.Context) error {
			if err := serviceDir(output, service); err != nil {
				return err
			}
			return secretfile.WriteMode(path, want, 0o644)
		}}}, nil
}
