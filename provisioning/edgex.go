package provisioning

// What provisioning does for services built on EdgeX's go-mod-bootstrap
// (edgex: true) and for services that keep secrets (secrets: true), beyond
// what every ztedge service gets:
//
//   - the policy of a service that keeps secrets also grants
//     secret/edgex/<name>/*, where EdgeX reads and writes them;
//   - the KV version 1 secrets engine at vault.secretsMount: created (and
//     owned, described "managed by ztedge") when missing, accepted when it
//     is a KV version 1 mount someone else made, refused when it is a KV
//     version 2 mount (EdgeX speaks only the version 1 API);
//   - per EdgeX service, the Vault token file EdgeX reads at start
//     (<output>/services/<name>/secrets-token.json, see internal/edgextoken)
//     and the environment it needs (<output>/services/<name>/edgex.env, see
//     [Topology.EdgeXEnv]);
//   - when an EdgeX service goes away, its token is revoked and its files
//     removed, before its Vault objects are.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/edgextoken"
	"github.com/ztedge/ztedge/internal/secretfile"
	"github.com/ztedge/ztedge/internal/vault"
)

// Kinds of EdgeX objects, as shown in plans.
const (
	kindSecretsMount = "vault secrets mount"
	kindTokenFile    = "edgex token file"
	kindEnvFile      = "edgex env file"
)

// secretsMountDescription marks the KV mount ztedge created; only a mount
// with this description is ever disabled.
const secretsMountDescription = "managed by ztedge"

// EnvFileName is the name of the environment file provisioning writes for
// an EdgeX service, beside its credentials and token file.
const EnvFileName = "edgex.env"

// EdgeXTokenFile returns where provisioning writes the Vault token file of
// EdgeX service name: <output>/services/<name>/secrets-token.json.
func EdgeXTokenFile(output, name string) string { return edgextoken.Path(output, name) }

// EdgeXEnvFile returns where provisioning writes the environment of EdgeX
// service name: <output>/services/<name>/edgex.env.
func EdgeXEnvFile(output, name string) string {
	return filepath.Join(output, "services", name, EnvFileName)
}

// serviceNamed returns the service called name.
func (t *Topology) serviceNamed(name string) (Service, bool) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// keepsSecrets reports whether any service keeps secrets.
func (t *Topology) keepsSecrets() bool {
	for _, s := range t.Services {
		if s.Secrets {
			return true
		}
	}
	return false
}

// edgexPolicyText is what the ACL policy of service name grants beyond
// ztedge's own paths: its EdgeX secret store when it keeps secrets. The
// path is the API path EdgeX uses whichever of the two allowed mounts
// holds it.
func edgexPolicyText(t *Topology, name string) string {
	s, ok := t.serviceNamed(name)
	if !ok || !s.Secrets {
		return ""
	}
	return fmt.Sprintf(`
# Managed by ztedge: the secrets service %s keeps, where EdgeX reads and
# writes them (KV version 1 on %s).
path "secret/edgex/%s/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
`, name, t.Vault.SecretsMount, name)
}

// policyText is the whole ACL policy of service s: ztedge's paths and the
// EdgeX paths the topology grants it.
func (v *vaultSide) policyText(s string) string {
	return vaultPolicyText(s) + edgexPolicyText(v.t, s)
}

// secretsMountState reads the mount at t.Vault.SecretsMount and says
// whether it can hold EdgeX secrets. It returns the mount (nil when
// missing) or an error naming the conflict.
func secretsMountState(ctx context.Context, c *vaultapi.Client, t *Topology) (*vaultapi.MountOutput, error) {
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Vault secrets engines: %w", vault.Sanitize(err))
	}
	path := t.Vault.SecretsMount
	m := mounts[path+"/"]
	if m == nil {
		for p, other := range mounts {
			if strings.HasPrefix(path+"/", p) {
				return nil, fmt.Errorf("vault.secretsMount %q cannot be created inside the %s mount at %s: use vault.secretsMount %q, or disable that mount", path, other.Type, p, strings.TrimSuffix(p, "/"))
			}
		}
		return nil, nil
	}
	version := m.Options["version"]
	switch {
	case (m.Type == "kv" || m.Type == "generic") && (version == "" || version == "1"):
		return m, nil
	case m.Type == "kv" && version == "2":
		return nil, fmt.Errorf("vault mount %s/ is a KV version 2 secrets engine (as Vault's dev server creates), but EdgeX reads and writes secrets with the KV version 1 API at /v1/secret/edgex/<service>/: move its secrets away and disable it (vault secrets disable %s), then apply again; ztedge then creates a version 1 mount", path, path)
	default:
		return nil, fmt.Errorf("vault mount %s/ is a %q secrets engine, not KV version 1, which EdgeX needs for its secrets: disable it or run EdgeX's secrets on another Vault", path, m.Type)
	}
}

// planSecretsMount returns the change creating the KV version 1 mount when
// a service keeps secrets and it is missing, or the conflict.
func planSecretsMount(ctx context.Context, c *vaultapi.Client, t *Topology) ([]Change, error) {
	if !t.keepsSecrets() {
		return nil, nil
	}
	m, err := secretsMountState(ctx, c, t)
	if err != nil || m != nil {
		return nil, err
	}
	path := t.Vault.SecretsMount
	return []Change{{Op: OpCreate, Kind: kindSecretsMount, Name: path, Detail: "kv version 1, for EdgeX secrets",
		apply: func(ctx context.Context) error {
			err := c.Sys().MountWithContext(ctx, path, &vaultapi.MountInput{
				Type: "kv", Description: secretsMountDescription, Options: map[string]string{"version": "1"},
			})
			if err != nil {
				return fmt.Errorf("enabling kv version 1 at %s: %w", path, vault.Sanitize(err))
			}
			return nil
		}}}, nil
}

// destroySecretsMount returns the change disabling the secrets mount when
// ztedge created it (its description says so), with every secret in it.
func destroySecretsMount(ctx context.Context, c *vaultapi.Client, t *Topology) ([]Change, error) {
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Vault secrets engines: %w", vault.Sanitize(err))
	}
	path := t.Vault.SecretsMount
	m := mounts[path+"/"]
	if m == nil || strings.TrimSpace(m.Description) != secretsMountDescription {
		return nil, nil
	}
	return []Change{{Op: OpDelete, Kind: kindSecretsMount, Name: path, Detail: "and every secret stored in it",
		apply: func(ctx context.Context) error {
			if err := c.Sys().UnmountWithContext(ctx, path); err != nil {
				return fmt.Errorf("disabling secrets engine %s: %w", path, vault.Sanitize(err))
			}
			return nil
		}}}, nil
}

// planEdgeXFiles returns, for every EdgeX service, the changes that write
// its token file (when missing or no longer valid) and its environment file
// (when missing or different). They run after the Vault changes, which
// write the credentials the token file is logged in with.
func planEdgeXFiles(ctx context.Context, c *vaultapi.Client, t *Topology) ([]Change, error) {
	var changes []Change
	for _, s := range t.Services {
		if !s.EdgeX {
			continue
		}
		why, err := tokenFileProblem(ctx, c, t, s.Name)
		if err != nil {
			return nil, err
		}
		if why != "" {
			op := OpUpdate
			if why == "file missing" {
				op = OpCreate
			}
			keeper := &edgextoken.Keeper{
				Credentials: credentials.Path(t.Output, s.Name),
				Path:        EdgeXTokenFile(t.Output, s.Name),
				VaultCA:     t.Vault.CACert,
			}
			changes = append(changes, Change{Op: op, Kind: kindTokenFile, Name: s.Name, Detail: why,
				apply: func(ctx context.Context) error {
					if err := serviceDir(t.Output, s.Name); err != nil {
						return err
					}
					_, err := keeper.Ensure(ctx)
					return err
				}})
		}
		env, err := t.EdgeXEnv(s.Name)
		if err != nil {
			return nil, err
		}
		want := FormatEnv(env)
		path := EdgeXEnvFile(t.Output, s.Name)
		have, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			changes = append(changes, envChange(OpCreate, t.Output, s.Name, path, want, ""))
		case err != nil:
			return nil, fmt.Errorf("edgex env file of %s: %w", s.Name, err)
		case string(have) != string(want):
			changes = append(changes, envChange(OpUpdate, t.Output, s.Name, path, want, "content differs"))
		}
	}
	return changes, nil
}

func envChange(op Op, output, name, path string, content []byte, detail string) Change {
	return Change{Op: op, Kind: kindEnvFile, Name: name, Detail: detail,
		apply: func(context.Context) error {
			if err := serviceDir(output, name); err != nil {
				return err
			}
			if err := secretfile.Write(path, content); err != nil {
				return err
			}
			return secretfile.KeepPrivateDirs(filepath.Dir(path))
		}}
}

// tokenFileProblem says why the token file of service name must be
// (re)written, or "" when it holds a valid token of the service.
func tokenFileProblem(ctx context.Context, c *vaultapi.Client, t *Topology, name string) (string, error) {
	f, err := edgextoken.Read(EdgeXTokenFile(t.Output, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file missing", nil
	case err != nil:
		return "file unusable", nil
	}
	st, err := edgextoken.Lookup(ctx, c, f.Auth.ClientToken)
	switch {
	case errors.Is(err, edgextoken.ErrTokenInvalid):
		return "vault no longer accepts its token", nil
	case err != nil:
		return "", fmt.Errorf("checking the edgex token file of %s: %w", name, err)
	case st.EntityID != f.Auth.EntityID || (st.RoleName != "" && st.RoleName != name):
		return "its token is not the service's", nil
	}
	return "", nil
}

// planEdgeXRemovals returns the changes that revoke the token and remove
// the files of every service folder under <output>/services holding an
// EdgeX token file for a service that is not an EdgeX service of t (all of
// them when t is nil, for destroy). They run before the Vault changes,
// which delete the folders of removed services.
func planEdgeXRemovals(ctx context.Context, c *vaultapi.Client, output string, t *Topology) ([]Change, error) {
	dirs, err := os.ReadDir(filepath.Join(output, "services"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the services folder: %w", err)
	}
	var names []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if t != nil {
			if s, ok := t.serviceNamed(d.Name()); ok && s.EdgeX {
				continue
			}
		}
		names = append(names, d.Name())
	}
	sort.Strings(names)
	var changes []Change
	for _, name := range names {
		tokenPath, envPath := EdgeXTokenFile(output, name), EdgeXEnvFile(output, name)
		if _, err := os.Lstat(tokenPath); err == nil {
			changes = append(changes, Change{Op: OpDelete, Kind: kindTokenFile, Name: name, Detail: "token revoked",
				apply: func(ctx context.Context) error {
					if f, err := edgextoken.Read(tokenPath); err == nil {
						if err := edgextoken.Revoke(ctx, c, f.Auth.ClientToken); err != nil {
							return err
						}
					}
					return removeOutputFiles(output, []string{"services", name}, edgextoken.FileName)
				}})
		}
		if _, err := os.Lstat(envPath); err == nil {
			changes = append(changes, Change{Op: OpDelete, Kind: kindEnvFile, Name: name,
				apply: func(context.Context) error {
					return removeOutputFiles(output, []string{"services", name}, EnvFileName)
				}})
		}
	}
	return changes, nil
}
