package provisioning

import (
	"context"
	"fmt"
	"log/slog"
)

// Provisioner brings Vault and the Ziti controller to the state a
// [Topology] describes. Create one with [New].
type Provisioner struct {
	t     *Topology
	log   *slog.Logger
	vault *vaultSide
	ziti  *zitiSide
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
	vc, err := newVaultClient(ctx, t)
	if err != nil {
		return nil, err
	}
	z, err := newZitiSide(ctx, t, logger)
	if err != nil {
		return nil, err
	}
	return &Provisioner{t: t, log: logger, vault: newVaultSide(vc, t), ziti: z}, nil
}

// Plan reports what [Provisioner.Apply] would create, update and delete,
// touching nothing.
func (p *Provisioner) Plan(ctx context.Context) (_ *Plan, err error) {
	defer prefixErr(&err)
	vc, err := p.vault.plan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	issuer, jwks, err := p.vault.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading Vault's OIDC discovery document: %w", err)
	}
	zc, err := p.ziti.plan(ctx, issuer, jwks)
	if err != nil {
		return nil, fmt.Errorf("planning the Ziti controller: %w", err)
	}
	return &Plan{Changes: sequence(vc, zc)}, nil
}

// Apply makes a plan and carries it out, calling progress (if not nil)
// after each change. It returns the plan it carried out; an empty plan
// means nothing needed to change.
func (p *Provisioner) Apply(ctx context.Context, progress func(Change)) (_ *Plan, err error) {
	defer prefixErr(&err)
	plan, err := p.Plan(ctx)
	if err != nil {
		return nil, err
	}
	return plan, plan.execute(ctx, progress)
}

// DestroyPlan reports what [Provisioner.Destroy] would delete.
func (p *Provisioner) DestroyPlan(ctx context.Context) (_ *Plan, err error) {
	defer prefixErr(&err)
	zc, err := p.ziti.destroyPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning the Ziti controller: %w", err)
	}
	vc, err := p.vault.destroyPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning Vault: %w", err)
	}
	return &Plan{Changes: sequence(zc, vc)}, nil
}

// Destroy deletes every object ztedge created in Vault and on the
// controller, and the files it wrote, and nothing else.
func (p *Provisioner) Destroy(ctx context.Context, progress func(Change)) (_ *Plan, err error) {
	defer prefixErr(&err)
	plan, err := p.DestroyPlan(ctx)
	if err != nil {
		return nil, err
	}
	return plan, plan.execute(ctx, progress)
}
