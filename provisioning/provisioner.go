package provisioning

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/filelock"
	"github.com/ztedge/ztedge/internal/vault"
)

// Provisioner brings Vault and the Ziti controller to the state a
// [Topology] describes. Create one with [New].
type Provisioner struct {
	t     *Topology
	log   *slog.Logger
	vault *vaultSide
	ziti  *zitiSide
	// vc is the Vault client, for the EdgeX parts (edgex.go).
	vc *vaultapi.Client
}

// New connects to the Vault server and the Ziti controller the topology
// names and checks the credentials for both, so that a wrong address or
// token fails here with a clear error, before any plan is made. The topology
// must be validated (see [LoadFile]). A nil logger means slog.Default().
func New(ctx context.Context, t *Topology, logger *slog.Logger) (_ *Provisioner, err error) {
	defer prefixErr(&err)
	if logger == nil {
		logger = slog.Default()
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	vault.WarnPlainHTTP(logger, t.Vault.Address, "the administrator's Vault token and the services' secret IDs", "use https and vault.caCert")
	if err := checkOutput(t.Output); err != nil {
		return nil, err
	}
	vc, err := newVaultClient(ctx, t)
	if err != nil {
		return nil, err
	}
	z, err := newZitiSide(ctx, t, logger)
	if err != nil {
		return nil, err
	}
	return &Provisioner{t: t, log: logger, vault: newVaultSide(vc, t), ziti: z, vc: vc}, nil
}

// Plan reports what [Provisioner.Apply] would create, update and delete,
// touching nothing.
//
// EdgeX services (edgex.go): the token files and environment files of
// services no longer marked edgex are removed first, their tokens revoked;
// the secrets mount, token files and environment files follow the Vault
// changes, which write the credentials the token files are logged in with.
func (p *Provisioner) Plan(ctx context.Context) (_ *Plan, err error) {
	defer prefixErr(&err)
	vc, err := vaultChanges(ctx, p.vault)
	if err != nil {
		return nil, err
	}
	issuer, jwks, err := discoverIssuer(ctx, p.t)
	if err != nil {
		return nil, fmt.Errorf("reading Vault's OIDC discovery document: %w", err)
	}
	trust, err := planTrustFiles(p.t)
	if err != nil {
		return nil, fmt.Errorf("planning the services' CA files: %w", err)
	}
	zc, err := p.ziti.plan(ctx, issuer, jwks)
	if err != nil {
		return nil, fmt.Errorf("planning the Ziti controller: %w", err)
	}
	return &Plan{Changes: sequence(vc, trust, zc)}, nil
}

// vaultChanges plans the Vault side with its EdgeX parts: removals of EdgeX
// files first, then the Vault objects, the secrets mount, and the EdgeX
// token and environment files, each part after the one before.
func vaultChanges(ctx context.Context, v *vaultSide) ([]Change, error) {
	pre, err := planEdgeXRemovals(ctx, v.c, v.t.Output, v.t)
	if err != nil {
		return nil, fmt.Errorf("planning EdgeX files: %w", err)
	}
	vc, err := v.plan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	mount, err := planSecretsMount(ctx, v.c, v.t)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	files, err := planEdgeXFiles(ctx, v.c, v.t)
	if err != nil {
		return nil, fmt.Errorf("planning EdgeX files: %w", err)
	}
	return sequence(inOrder(pre), vc, inOrder(mount), inOrder(files)), nil
}

// Apply makes a plan and carries it out, calling progress (if not nil)
// after each change. It returns the plan it carried out; an empty plan
// means nothing needed to change.
func (p *Provisioner) Apply(ctx context.Context, progress func(Change)) (_ *Plan, err error) {
	defer prefixErr(&err)
	unlock, err := p.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	plan, err := p.Plan(ctx)
	if err != nil {
		return nil, err
	}
	return plan, plan.execute(ctx, progress)
}

// DestroyPlan reports what [Provisioner.Destroy] would delete. EdgeX token
// files go first (their tokens revoked), the secrets mount ztedge created
// last.
func (p *Provisioner) DestroyPlan(ctx context.Context) (_ *Plan, err error) {
	defer prefixErr(&err)
	pre, err := planEdgeXRemovals(ctx, p.vc, p.t.Output, nil)
	if err != nil {
		return nil, fmt.Errorf("planning EdgeX files: %w", err)
	}
	zc, err := p.ziti.destroyPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning the Ziti controller: %w", err)
	}
	vc, err := p.vault.destroyPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	mount, err := destroySecretsMount(ctx, p.vc, p.t)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	return &Plan{Changes: sequence(inOrder(pre), zc, vc, inOrder(mount))}, nil
}

// Destroy deletes every object ztedge created in Vault and on the
// controller, and the files it wrote, and nothing else.
func (p *Provisioner) Destroy(ctx context.Context, progress func(Change)) (_ *Plan, err error) {
	defer prefixErr(&err)
	unlock, err := p.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	plan, err := p.DestroyPlan(ctx)
	if err != nil {
		return nil, err
	}
	return plan, plan.execute(ctx, progress)
}

// inOrder makes changes run one after the other, in plan order.
func inOrder(changes []Change) []Change { return inStage(changes, 0, "in order") }

// lockFileName is the lock, in the output folder, that one apply or
// destroy holds at a time.
const lockFileName = ".ztedge-provision.lock"

// lock waits until no other apply or destroy of the same output folder
// runs, in this process or another: two at once would each revoke the
// secret_id the other just wrote. The second one plans after the first
// has finished, and finds what it did.
func (p *Provisioner) lock(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(p.t.Output, 0o700); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	path := filepath.Join(p.t.Output, lockFileName)
	return filelock.Lock(ctx, path, func() {
		p.log.Warn("waiting for another ztedge provision apply or destroy of the same output folder to finish", "lock", path)
	})
}
