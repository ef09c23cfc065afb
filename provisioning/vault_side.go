package provisioning

// The Vault side of provisioning. For each service S of the topology,
// ztedge keeps in Vault:
//
//   - the OIDC signing key identity/oidc/key/<Key> (shared by all services);
//   - the AppRole auth method at <AuthMount>, described "managed by ztedge";
//   - the entity S with policy ztedge-S and metadata ztedge-managed=true;
//   - the ACL policy ztedge-S (read identity/oidc/token/S, introspect);
//   - the AppRole role S in <AuthMount>, periodic tokens, policy ztedge-S;
//   - the entity alias (name = the role's role_id, mount = <AuthMount>)
//     that ties logins through role S to entity S;
//   - the OIDC role identity/oidc/role/S signing {"name":"S"} with <Key>;
//   - the credentials file <Output>/services/S/credentials.json.
//
// Each per-service kind is a [vaultKind] in a file of its own. Ownership:
// the managed entities are the only marker Vault can hold, so the set of
// services ztedge created is the set of entities whose metadata carries
// ztedge-managed=true. Entities are created first and deleted last, so
// every other per-service object exists only while its entity does.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/vault"
)

const (
	// vaultManagedKey is the entity metadata key that marks an entity as
	// ztedge's. It is ManagedTag with the dot replaced: Vault only accepts
	// metadata keys matching [a-zA-Z0-9=/+_-]+ and rejects "ztedge.managed".
	vaultManagedKey = naming.VaultManagedKey
	// vaultMountDescription is the description of the auth methods ztedge
	// enables; only a mount with this description is ever disabled.
	vaultMountDescription = "managed by ztedge"
)

// Stages of the Vault side's changes (see [Change]).
const (
	stageVaultRemove   = iota // objects of services no longer in the topology
	stageVaultShared          // the OIDC key and the AppRole mount
	stageVaultServices        // per service, one chain each
	stageVaultKeyLast         // a key update that shortens verification_ttl
)

// vaultKind is one kind of per-service Vault object. The kinds of a
// service are planned in the order of [vaultKinds], each reading what
// earlier ones learned from its [serviceState]; they are removed in the
// reverse order.
type vaultKind interface {
	// converge returns the changes that bring the object of service s to
	// its desired state.
	converge(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error)
	// remove returns the changes that delete the object of the managed
	// entity s.entity, whose service is no longer wanted.
	remove(ctx context.Context, v *vaultSide, s *serviceState) ([]Change, error)
}

// vaultKinds are the per-service kinds, in the order they are created.
var vaultKinds = []vaultKind{entityKind{}, policyKind{}, appRoleKind{}, aliasKind{}, oidcRoleKind{}, credentialsKind{}}

// serviceState is what planning one service's objects has learned so far.
type serviceState struct {
	name   string
	entity *vault.Entity  // nil when missing
	role   *appRoleConfig // nil when missing
	roleID string         // "" when the role is missing
}

// vaultSide plans changes to the Vault objects of a topology.
type vaultSide struct {
	c *vaultapi.Client
	t *Topology
	// Read by load before planning.
	mount      *vaultapi.AuthMount // nil when missing
	mountOwned bool
	aliases    []vault.Alias            // on the mount, when it is ztedge's
	managed    map[string]*vault.Entity // by name
	accessorCache
}

// newVaultClient connects to the topology's Vault with the management
// token (vault.tokenFile or VAULT_TOKEN) and checks it.
func newVaultClient(ctx context.Context, t *Topology) (*vaultapi.Client, error) {
	addr := strings.TrimRight(strings.TrimSpace(t.Vault.Address), "/")
	if addr == "" {
		return nil, errors.New("vault.address is empty: set it to Vault's URL, e.g. http://127.0.0.1:8200")
	}
	token, source, err := vaultToken(t)
	if err != nil {
		return nil, err
	}
	return vault.AdminClient(ctx, vault.Config{Address: addr, CAFile: t.Vault.CACert}, token, source)
}

// vaultToken returns the topology's management token and where it came from.
func vaultToken(t *Topology) (token, source string, err error) {
	token, source, err = vaultTokenFrom(t.Vault.TokenFile)
	if err != nil && t.Vault.TokenFile != "" {
		return "", "", fmt.Errorf("vault.tokenFile: %w", err)
	}
	return token, source, err
}

// VaultToken returns an administrator's Vault token and where it came from:
// the file tokenFile when it is not empty, else the VAULT_TOKEN variable.
func VaultToken(tokenFile string) (token, source string, err error) {
	defer prefixErr(&err)
	return vaultTokenFrom(tokenFile)
}

// vaultTokenFrom is VaultToken without the package's error prefix.
func vaultTokenFrom(tokenFile string) (token, source string, err error) {
	if tokenFile != "" {
		b, err := configfile.Read(tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("reading the Vault token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", "", fmt.Errorf("vault token file %s is empty", tokenFile)
		}
		return token, tokenFile, nil
	}
	token = strings.TrimSpace(os.Getenv("VAULT_TOKEN"))
	if token == "" {
		return "", "", errors.New("no Vault token: set vault.tokenFile in the topology or the VAULT_TOKEN environment variable")
	}
	return token, "VAULT_TOKEN", nil
}

// newVaultSide returns the Vault side of provisioning for topology t,
// using client c (see newVaultClient).
func newVaultSide(c *vaultapi.Client, t *Topology) *vaultSide {
	return &vaultSide{c: c, t: t}
}

// read reads path and returns its data, or nil when it does not exist.
func (v *vaultSide) read(ctx context.Context, path string) (map[string]any, error) {
	return vault.Read(ctx, v.c, path)
}

// write writes data to path and returns the answer's data (may be nil).
func (v *vaultSide) write(ctx context.Context, path string, data map[string]any) (map[string]any, error) {
	return vault.Write(ctx, v.c, path, data)
}

// del deletes path; a path that is already gone is not an error.
func (v *vaultSide) del(ctx context.Context, path string) error {
	return vault.Delete(ctx, v.c, path)
}

// list lists path and returns its keys and key_info (both may be empty).
func (v *vaultSide) list(ctx context.Context, path string) ([]string, map[string]any, error) {
	data, err := vault.List(ctx, v.c, path)
	if err != nil || data == nil {
		return nil, nil, err
	}
	info, _ := data["key_info"].(map[string]any)
	return vault.Strings(data["keys"]), info, nil
}

// load reads the shared state every plan needs: the AppRole mount and the
// aliases on it, and the managed entities, sorted by name.
func (v *vaultSide) load(ctx context.Context) ([]*vault.Entity, error) {
	var err error
	v.accessor = "" // read again when the plan runs
	if v.mount, v.mountOwned, err = v.authMount(ctx); err != nil {
		return nil, err
	}
	managed, err := v.managedEntities(ctx)
	if err != nil {
		return nil, err
	}
	v.managed = make(map[string]*vault.Entity, len(managed))
	for _, e := range managed {
		v.managed[e.Name] = e
	}
	v.aliases = nil
	if v.mount != nil && v.mountOwned {
		if v.aliases, err = v.aliasesOnMount(ctx, v.mount.Accessor); err != nil {
			return nil, err
		}
	}
	return managed, nil
}

// plan compares Vault with the topology and returns the changes that
// converge it: removals of services no longer in the topology first, then
// the OIDC key and the auth mount, then each service's objects in the
// order of [vaultKinds] (services concurrently, one chain each). A key
// update that shortens the verification TTL goes last, after the roles'
// TTLs shrank.
func (v *vaultSide) plan(ctx context.Context) ([]Change, error) {
	managed, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	if v.mount != nil && !v.mountOwned {
		return nil, fmt.Errorf("vault auth mount %q exists but is not ztedge's (type %q, description %q; ztedge's is an approle mount described %q): choose another vault.authMount or disable that mount",
			v.mountPath(), v.mount.Type, v.mount.Description, vaultMountDescription)
	}
	inTopology := map[string]bool{}
	for _, s := range v.t.Services {
		inTopology[s.Name] = true
	}
	var gone []*vault.Entity
	for _, e := range managed {
		if !inTopology[e.Name] {
			gone = append(gone, e)
		}
	}
	removals, err := v.removeServices(ctx, gone)
	if err != nil {
		return nil, err
	}
	changes := removals

	key, keyLast, err := v.planKey(ctx)
	if err != nil {
		return nil, err
	}
	if key != nil && !keyLast {
		key.stage = stageVaultShared
		changes = append(changes, *key)
	}
	if c := v.planMount(); c != nil {
		changes = append(changes, *c)
	}

	perService, err := collect(ctx, len(v.t.Services), func(ctx context.Context, i int) ([]Change, error) {
		s := &serviceState{name: v.t.Services[i].Name}
		var out []Change
		for _, k := range vaultKinds {
			cs, err := k.converge(ctx, v, s)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return inStage(out, stageVaultServices, "service/"+s.name), nil
	})
	if err != nil {
		return nil, err
	}
	for _, cs := range perService {
		changes = append(changes, cs...)
	}
	if key != nil && keyLast {
		key.stage = stageVaultKeyLast
		changes = append(changes, *key)
	}
	return changes, nil
}

// removeServices returns the changes that delete every object of the
// given managed entities, one chain per service, in the reverse order of
// [vaultKinds].
func (v *vaultSide) removeServices(ctx context.Context, entities []*vault.Entity) ([]Change, error) {
	per, err := collect(ctx, len(entities), func(ctx context.Context, i int) ([]Change, error) {
		s := &serviceState{name: entities[i].Name, entity: entities[i]}
		var out []Change
		for k := len(vaultKinds) - 1; k >= 0; k-- {
			cs, err := vaultKinds[k].remove(ctx, v, s)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return inStage(out, stageVaultRemove, "service/"+s.name), nil
	})
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, cs := range per {
		changes = append(changes, cs...)
	}
	return changes, nil
}

// destroyPlan returns the changes that remove everything ztedge created in
// Vault and nothing else: every managed entity's objects, then the OIDC
// key (unless OIDC roles ztedge did not create still use it, which is an
// error naming them), then the AppRole mount if it is ztedge's.
func (v *vaultSide) destroyPlan(ctx context.Context) ([]Change, error) {
	managed, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := v.removeServices(ctx, managed)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range managed {
		names[e.Name] = true
	}
	key, err := v.removeKey(ctx, names)
	if err != nil {
		return nil, err
	}
	if key != nil {
		changes = append(changes, *key)
	}
	if m := v.removeMount(); m != nil {
		changes = append(changes, *m)
	}
	return changes, nil
}

// inStage puts changes into one stage and chain.
func inStage(changes []Change, stage int, chain string) []Change {
	for i := range changes {
		changes[i].stage, changes[i].chain = stage, chain
	}
	return changes
}

// sortedNames returns the sorted names of a set.
func sortedNames(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
