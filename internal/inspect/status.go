package inspect

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/provisioning"
)

// Status is what is live on a ztedge network now, as the controller and
// Vault report it. Its JSON form is the output of "ztedge status -o json"
// and is stable: fields may be added, never renamed or removed (see
// docs/operations.md).
type Status struct {
	// Time is when the status was read.
	Time time.Time `json:"time"`
	// Controller is the Ziti controller.
	Controller ControllerStatus `json:"controller"`
	// Vault is the Vault server and its OIDC signing key.
	Vault VaultStatus `json:"vault"`
	// Signer is the controller's external JWT signer for Vault's JWTs.
	Signer SignerStatus `json:"signer"`
	// Routers are every edge router the controller knows.
	Routers []RouterStatus `json:"routers"`
	// Services are the topology's services, in file order.
	Services []ServiceStatus `json:"services"`
	// Clients are the topology's client identities, in file order.
	Clients []IdentityStatus `json:"clients"`
	// Dependencies are the topology's dependencies, in file order, then
	// Vault when it is published on the overlay (named after its Ziti
	// service, "ztedge.vault").
	Dependencies []DependencyStatus `json:"dependencies"`
	// Problems say, one sentence each, what is not as the topology wants
	// it; empty when all is well.
	Problems []string `json:"problems"`
}

// ControllerStatus is the controller as the administrator reaches it.
type ControllerStatus struct {
	URL string `json:"url"`
	// Reachable is true when the administrator login worked.
	Reachable bool `json:"reachable"`
	// Error says why the controller could not be read.
	Error string `json:"error,omitempty"`
}

// VaultStatus is Vault and the key that signs the services' JWTs.
type VaultStatus struct {
	Address string `json:"address"`
	// Reachable is true when Vault answered and accepted the topology's token.
	Reachable bool   `json:"reachable"`
	Sealed    bool   `json:"sealed"`
	Version   string `json:"version,omitempty"`
	// Issuer and JWKSURL are from Vault's OIDC discovery document.
	Issuer  string `json:"issuer,omitempty"`
	JWKSURL string `json:"jwksUrl,omitempty"`
	// Key is the OIDC signing key.
	Key KeyStatus `json:"key"`
	// Error says why Vault could not be read.
	Error string `json:"error,omitempty"`
}

// KeyStatus is Vault's OIDC signing key.
type KeyStatus struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	// Algorithm is the signing algorithm, e.g. ES384.
	Algorithm string `json:"algorithm,omitempty"`
	// RotationPeriodSeconds and VerificationTTLSeconds: how often Vault
	// rotates the key, and how long a rotated key stays published.
	RotationPeriodSeconds  int64 `json:"rotationPeriodSeconds,omitempty"`
	VerificationTTLSeconds int64 `json:"verificationTtlSeconds,omitempty"`
	// AllowedClientIDs are the audiences the key may sign for.
	AllowedClientIDs []string `json:"allowedClientIds,omitempty"`
	// PublishedKeys counts the public keys in Vault's key set (the
	// current key and rotated ones still verifiable).
	PublishedKeys int `json:"publishedKeys"`
}

// SignerStatus is the controller's external JWT signer.
type SignerStatus struct {
	Name         string `json:"name"`
	Present      bool   `json:"present"`
	Enabled      bool   `json:"enabled"`
	Issuer       string `json:"issuer,omitempty"`
	Audience     string `json:"audience,omitempty"`
	JWKSEndpoint string `json:"jwksEndpoint,omitempty"`
	// MatchesVault is true when the signer's issuer and key set URL are
	// the ones Vault's discovery document names.
	MatchesVault bool `json:"matchesVault"`
}

// RouterStatus is one edge router.
type RouterStatus struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Online bool   `json:"online"`
}

// ServiceStatus is one service of the topology.
type ServiceStatus struct {
	Name string `json:"name"`
	// ZitiService is the Ziti service it binds, edgex.<name>.
	ZitiService string `json:"zitiService"`
	// Present is true when the controller has the Ziti service.
	Present bool `json:"present"`
	// Bound is true when the service has at least one terminator: it runs
	// and is reachable over the overlay.
	Bound bool `json:"bound"`
	// Routers are the edge routers it is bound on, one entry per terminator.
	Routers []string `json:"routers"`
	// Identity is the service's Ziti identity.
	Identity IdentityStatus `json:"identity"`
}

// DependencyStatus is a TCP server published on the overlay by a router's
// tunneler: one of the topology's dependencies, or Vault.
type DependencyStatus struct {
	Name string `json:"name"`
	// ZitiService is its Ziti service.
	ZitiService string `json:"zitiService"`
	// Router is the router whose tunneler should host it, as in the
	// topology.
	Router string `json:"router"`
	// Present is true when the controller has the Ziti service.
	Present bool `json:"present"`
	// Bound is true when a tunneler on an online router hosts it.
	Bound bool `json:"bound"`
	// Routers are the edge routers it is hosted on, one entry per
	// terminator.
	Routers []string `json:"routers"`
}

// IdentityStatus is one Ziti identity.
type IdentityStatus struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	// Authenticated is true while the identity has a session with the
	// controller: an API session the controller lists, or a connection to
	// an edge router (which needs a valid session; OIDC sessions are not
	// listed).
	Authenticated bool `json:"authenticated"`
	// LastActivity is the last activity of its most recent API session,
	// when the controller lists one.
	LastActivity *time.Time `json:"lastActivity,omitempty"`
	// RouterConnected is true while it is connected to an edge router.
	RouterConnected bool `json:"routerConnected"`
	// SDK is the SDK and version it last reported.
	SDK string `json:"sdk,omitempty"`
}

// Collect reads the live state of a validated topology's network from the
// controller (as its administrator) and from Vault (with its management
// token). It fails only when ctx ends; what cannot be read is reported in
// the status's errors and problems.
func Collect(ctx context.Context, top *provisioning.Topology, logger *slog.Logger) (*Status, error) {
	if logger == nil {
		logger = slog.Default()
	}
	st := &Status{Time: time.Now().UTC(), Routers: []RouterStatus{}, Services: []ServiceStatus{}, Clients: []IdentityStatus{},
		Dependencies: []DependencyStatus{}, Problems: []string{}}
	st.Controller.URL = top.Ziti.Controller
	st.Vault.Address = top.Vault.Address
	st.Vault.Key.Name = top.Vault.Key
	st.Signer.Name = provisioning.SignerName
	collectVault(ctx, top, st)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	api, err := provisioning.ZitiManagement(ctx, top, logger)
	if err != nil {
		st.Controller.Error = err.Error()
		st.problem("the controller cannot be read: %v", err)
		return st, ctx.Err()
	}
	st.Controller.Reachable = true
	if err := collectController(ctx, NewController(api), top, st); err != nil {
		st.Controller.Error = err.Error()
		st.problem("reading the controller failed: %v", err)
	}
	return st, ctx.Err()
}

func (st *Status) problem(format string, args ...any) {
	st.Problems = append(st.Problems, fmt.Sprintf(format, args...))
}

// collectController fills in the signer, routers, services and clients.
func collectController(ctx context.Context, c *Controller, top *provisioning.Topology, st *Status) error {
	signer, err := c.Signer(ctx, provisioning.SignerName)
	if err != nil {
		return err
	}
	if signer != nil {
		st.Signer = SignerStatus{Name: signer.Name, Present: true, Enabled: signer.Enabled, Issuer: signer.Issuer,
			Audience: signer.Audience, JWKSEndpoint: signer.JWKSEndpoint,
			MatchesVault: st.Vault.Issuer != "" && signer.Issuer == st.Vault.Issuer && signer.JWKSEndpoint == st.Vault.JWKSURL}
	}
	switch {
	case !st.Signer.Present:
		st.problem("the controller has no external JWT signer %s: no service can authenticate (run ztedge provision apply)", provisioning.SignerName)
	case !st.Signer.Enabled:
		st.problem("the external JWT signer %s is disabled: no service can authenticate", provisioning.SignerName)
	case st.Vault.Issuer != "" && !st.Signer.MatchesVault:
		st.problem("the external JWT signer %s does not name Vault's issuer and key set (run ztedge provision apply)", provisioning.SignerName)
	case st.Signer.Audience != top.JWT.Audience:
		st.problem("the external JWT signer %s expects audience %q, the topology says %q (run ztedge provision apply)", provisioning.SignerName, st.Signer.Audience, top.JWT.Audience)
	}

	routers, err := c.Routers(ctx)
	if err != nil {
		return err
	}
	online := map[string]bool{}
	for _, r := range routers {
		st.Routers = append(st.Routers, RouterStatus{Name: r.Name, ID: r.ID, Online: r.Online})
		online[r.ID] = r.Online
		if !r.Online {
			st.problem("edge router %s is offline", r.Name)
		}
	}
	if !slices.ContainsFunc(routers, func(r Router) bool { return r.Online }) {
		st.problem("no edge router is online: nothing can bind or dial")
	}

	ids, err := c.Identities(ctx)
	if err != nil {
		return err
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return err
	}
	identity := func(name string) IdentityStatus {
		s := IdentityStatus{Name: name}
		if id := ids[name]; id != nil {
			// Identities that log in with OIDC (sdk-golang 1.x against
			// a 1.x controller) have no API session the controller
			// lists; being connected to an edge router needs a valid
			// session too.
			s.Present, s.RouterConnected, s.SDK = true, id.RouterConnected, id.SDK
			s.Authenticated = id.HasAPISession || id.RouterConnected
			if sess, ok := sessions[name]; ok && !sess.LastActivity.IsZero() {
				t := sess.LastActivity.UTC()
				s.LastActivity = &t
			}
		}
		return s
	}
	// terminators reports whether the Ziti service exists and the routers
	// of its terminators, and whether one of them is online.
	terminators := func(name string) (present, bound bool, routers []string, err error) {
		routers = []string{}
		zs, err := c.Service(ctx, name)
		if err != nil || zs == nil {
			return false, false, routers, err
		}
		terms, err := c.Terminators(ctx, zs.ID)
		if err != nil {
			return true, false, routers, err
		}
		for _, t := range terms {
			routers = append(routers, t.Router)
			bound = bound || online[t.RouterID]
		}
		return true, bound, routers, nil
	}
	for _, svc := range top.Services {
		s := ServiceStatus{Name: svc.Name, ZitiService: naming.ZitiService(svc.Name), Identity: identity(svc.Name)}
		if s.Present, s.Bound, s.Routers, err = terminators(s.ZitiService); err != nil {
			return err
		}
		switch {
		case !s.Present || !s.Identity.Present:
			st.problem("%s is not provisioned on the controller (run ztedge provision apply)", svc.Name)
		case len(s.Routers) > 0 && !s.Bound:
			st.problem("%s is bound only on offline edge routers", svc.Name)
		case !s.Bound:
			st.problem("%s is not bound: it is not running, or cannot bind (ztedge doctor -f TOPOLOGY %s says why)", svc.Name, svc.Name)
		}
		st.Services = append(st.Services, s)
	}
	deps := make([]DependencyStatus, 0, len(top.Dependencies)+1)
	for _, d := range top.Dependencies {
		deps = append(deps, DependencyStatus{Name: d.Name, ZitiService: naming.ZitiService(d.Name), Router: d.Router})
	}
	if o := top.Vault.Overlay; o != nil {
		deps = append(deps, DependencyStatus{Name: provisioning.VaultZitiService, ZitiService: provisioning.VaultZitiService, Router: o.Router})
	}
	for _, d := range deps {
		if d.Present, d.Bound, d.Routers, err = terminators(d.ZitiService); err != nil {
			return err
		}
		what := "dependency " + d.Name
		if d.Name == provisioning.VaultZitiService {
			what = "Vault's overlay service " + d.Name
		}
		switch {
		case !d.Present:
			st.problem("%s is not provisioned on the controller (run ztedge provision apply)", what)
		case len(d.Routers) > 0 && !d.Bound:
			st.problem("%s is hosted only on offline edge routers", what)
		case !d.Bound:
			st.problem("%s is not hosted: the tunneler of router %s does not host it (is the router running, with its tunneler on?)", what, d.Router)
		case !slices.Contains(d.Routers, d.Router):
			st.problem("%s is hosted on %s, not on router %s as the topology says (run ztedge provision apply)", what, strings.Join(d.Routers, ", "), d.Router)
		}
		st.Dependencies = append(st.Dependencies, d)
	}
	for _, cl := range top.Clients {
		s := identity(cl.Name)
		if !s.Present {
			st.problem("client %s is not provisioned on the controller (run ztedge provision apply)", cl.Name)
		}
		st.Clients = append(st.Clients, s)
	}
	return nil
}
