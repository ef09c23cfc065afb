package doctor

// The controller's side of the chain, read as an administrator: the
// external JWT signer, the identity, the effective policies, the edge
// routers and the terminators.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/vault"
	"github.com/ztedge/ztedge/provisioning"
)

type provisioningService = provisioning.Service

func serviceNames(t *provisioning.Topology) []string {
	names := make([]string, len(t.Services))
	for i, s := range t.Services {
		names[i] = s.Name
	}
	return names
}

// topologyName names the topology in messages.
func (c *checkup) topologyName() string {
	if c.opts.TopologyFile != "" {
		return c.opts.TopologyFile
	}
	return "the topology"
}

func discoverIssuer(ctx context.Context, vc *vaultapi.Client) (issuer, jwks string, err error) {
	return provisioning.DiscoverVault(ctx, vc)
}

// checkAdmin logs in to the management API: with the topology's
// administrator when there is a topology, else with ZITI_USER and
// ZITI_PWD against the service's controller. Without either, the
// controller-side steps are skipped, not failed.
func (c *checkup) checkAdmin(ctx context.Context) (string, error) {
	top := c.opts.Topology
	if top == nil {
		if os.Getenv("ZITI_USER") == "" || os.Getenv("ZITI_PWD") == "" {
			c.adminSkip = "no administrator login for the controller: give the topology (-f), or set ZITI_USER and ZITI_PWD"
			return "", errSkip{c.adminSkip}
		}
		top = &provisioning.Topology{Ziti: provisioning.ZitiSettings{Controller: c.controller, CACert: c.caFile}}
	}
	api, err := provisioning.ZitiManagement(ctx, top, c.log)
	if err != nil {
		return "", err
	}
	c.ctrl = inspect.NewController(api)
	user := top.Ziti.Username
	if user == "" {
		user = os.Getenv("ZITI_USER")
	}
	return fmt.Sprintf("logged in to %s/edge/management/v1 as %q", top.Ziti.Controller, user), nil
}

// checkSigner compares the JWT with the external JWT signer the
// controller checks it against, and checks that the signer's key set URL
// publishes the key that signed it.
func (c *checkup) checkSigner(ctx context.Context) (string, error) {
	s, err := c.ctrl.Signer(ctx, provisioning.SignerName)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("the controller has no external JWT signer %q", provisioning.SignerName)
	}
	c.signer = s
	switch {
	case !s.Enabled:
		return "", fmt.Errorf("the external JWT signer %q is disabled", s.Name)
	case s.Issuer != c.claims.Issuer:
		return "", fmt.Errorf("the JWT's issuer %q differs from the issuer %q of the external JWT signer %q", c.claims.Issuer, s.Issuer, s.Name)
	case !slices.Contains(c.claims.Audience, s.Audience):
		return "", fmt.Errorf("the JWT's audience %q does not hold the audience %q of the external JWT signer %q", c.claims.Audience, s.Audience, s.Name)
	case s.ClaimsProperty != naming.NameClaim || !s.UseExternalID:
		return "", fmt.Errorf("the external JWT signer %q matches claim %q against %s; ztedge needs claim %q against external IDs",
			s.Name, s.ClaimsProperty, map[bool]string{true: "external IDs", false: "identity IDs"}[s.UseExternalID], naming.NameClaim)
	}
	kids, err := keyIDs(ctx, s.JWKSEndpoint, c.vaultCA())
	if err != nil {
		return "", fail(genericApply+" sets the signer's key set URL from Vault's discovery document",
			"the key set %s of the external JWT signer %q cannot be read from here: %v", s.JWKSEndpoint, s.Name, err)
	}
	if c.claims.KeyID != "" && !slices.Contains(kids, c.claims.KeyID) {
		return "", fail(genericApply+" sets the signer's key set URL from Vault's discovery document",
			"the key set %s of the external JWT signer %q does not publish the key %q that signed the JWT", s.JWKSEndpoint, s.Name, c.claims.KeyID)
	}
	return fmt.Sprintf("signer %s: issuer, audience %q and claim %q match; its key set publishes key %s", s.Name, s.Audience, s.ClaimsProperty, c.claims.KeyID), nil
}

// keyIDs reads the key IDs of a JWKS URL.
func keyIDs(ctx context.Context, url, caFile string) ([]string, error) {
	hc, err := vault.HTTPClient(vault.Config{CAFile: caFile})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("it answered %s", resp.Status)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JSON key set: %w", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	if len(kids) == 0 {
		return nil, errors.New("it publishes no key")
	}
	return kids, nil
}

// checkIdentity checks the identity the signer will match the JWT to.
func (c *checkup) checkIdentity(ctx context.Context) (string, error) {
	id, err := c.ctrl.Identity(ctx, c.name)
	if err != nil {
		return "", err
	}
	if id == nil {
		return "", fmt.Errorf("the controller has no identity %q", c.name)
	}
	c.identity = id
	switch {
	case id.ExternalID != c.claims.Name:
		return "", fmt.Errorf("identity %q has external ID %q, but the signer matches the JWT's name %q against external IDs", id.Name, id.ExternalID, c.claims.Name)
	case id.Disabled:
		return "", fail("enable it: ziti edge update identity "+id.Name+" (or ztedge provision destroy and apply)",
			"identity %q is disabled: the controller refuses every authentication", id.Name)
	}
	ap, err := c.ctrl.AuthPolicy(ctx, id.AuthPolicyID)
	if err != nil {
		return "", err
	}
	if !ap.ExtJWTAllowed || (len(ap.AllowedSigners) > 0 && !slices.Contains(ap.AllowedSigners, c.signer.ID)) {
		return "", fmt.Errorf("identity %q has auth policy %q, which does not allow JWTs of the signer %q", id.Name, ap.Name, c.signer.Name)
	}
	return fmt.Sprintf("identity %s: external ID %q, auth policy %s allows signer %s", id.Name, id.ExternalID, ap.Name, c.signer.Name), nil
}

// service finds the Ziti service of a ztedge service.
func (c *checkup) service(ctx context.Context, name string) (*inspect.Service, error) {
	s, err := c.ctrl.Service(ctx, naming.ZitiService(name))
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("the controller has no service %q", naming.ZitiService(name))
	}
	return s, nil
}

// checkBind asks the policy advisor whether the identity may bind its service.
func (c *checkup) checkBind(ctx context.Context) (string, error) {
	svc, err := c.service(ctx, c.name)
	if err != nil {
		return "", err
	}
	c.ownSvc = svc
	return c.bindAllowed(ctx, c.identity, svc)
}

func (c *checkup) bindAllowed(ctx context.Context, id *inspect.Identity, svc *inspect.Service) (string, error) {
	a, err := c.ctrl.Advice(ctx, id.ID, svc.ID)
	if err != nil {
		return "", err
	}
	if !a.BindAllowed {
		return "", fmt.Errorf("identity %q may not bind %q: no Bind service policy grants it (ztedge's is ztedge.bind.%s)", id.Name, svc.Name, id.Name)
	}
	return fmt.Sprintf("a Bind policy lets identity %s bind %s", id.Name, svc.Name), nil
}

func (c *checkup) checkRouter(ctx context.Context) (string, error) {
	return c.routerOnline(ctx, c.identity, c.ownSvc)
}

// routerOnline checks that identity and service share an online edge router.
func (c *checkup) routerOnline(ctx context.Context, id *inspect.Identity, svc *inspect.Service) (string, error) {
	a, err := c.ctrl.Advice(ctx, id.ID, svc.ID)
	if err != nil {
		return "", err
	}
	switch {
	case a.IdentityRouters == 0:
		return "", fmt.Errorf("identity %q may use no edge router: the edge-router policy ztedge.edge-routers (ziti.edgeRouterRoles) selects none", id.Name)
	case a.ServiceRouters == 0:
		return "", fmt.Errorf("service %q may use no edge router: the service-edge-router policy ztedge.service-edge-routers (ziti.edgeRouterRoles) selects none", svc.Name)
	case len(a.CommonRouters) == 0:
		return "", fmt.Errorf("identity %q and service %q may use no edge router in common", id.Name, svc.Name)
	}
	var online, offline []string
	for _, r := range a.CommonRouters {
		if r.Online {
			online = append(online, r.Name)
		} else {
			offline = append(offline, r.Name)
		}
	}
	if len(online) == 0 {
		return "", fmt.Errorf("the edge routers identity %q may use for %q are all offline: %s", id.Name, svc.Name, strings.Join(offline, ", "))
	}
	return fmt.Sprintf("online: %s (may use %s, %d offline)", strings.Join(online, ", "), plural(len(a.CommonRouters), "edge router"), len(offline)), nil
}

func (c *checkup) checkBound(ctx context.Context) (string, error) {
	return c.bound(ctx, c.name, c.ownSvc)
}

// bound checks that the service has a terminator on an online router.
func (c *checkup) bound(ctx context.Context, name string, svc *inspect.Service) (string, error) {
	terms, err := c.ctrl.Terminators(ctx, svc.ID)
	if err != nil {
		return "", err
	}
	if len(terms) == 0 {
		return "", fmt.Errorf("%s is not bound on any edge router: %s is not running, or runs but cannot bind", svc.Name, name)
	}
	routers, err := c.ctrl.Routers(ctx)
	if err != nil {
		return "", err
	}
	var on []string
	for _, t := range terms {
		for _, r := range routers {
			if r.ID == t.RouterID && r.Online {
				on = append(on, t.Router)
			}
		}
	}
	if len(on) == 0 {
		return "", fmt.Errorf("%s is bound only on offline edge routers", svc.Name)
	}
	return fmt.Sprintf("%s is bound on %s (%s)", svc.Name, strings.Join(on, ", "), plural(len(terms), "terminator")), nil
}

// peer finds the peer's identity and service once.
func (c *checkup) peer(ctx context.Context) error {
	if c.peerSvc != nil {
		return nil
	}
	id, err := c.ctrl.Identity(ctx, c.opts.Peer)
	if err != nil {
		return err
	}
	if id == nil {
		return fmt.Errorf("the controller has no identity %q", c.opts.Peer)
	}
	svc, err := c.service(ctx, c.opts.Peer)
	if err != nil {
		return err
	}
	c.peerID, c.peerSvc = id, svc
	return nil
}

func (c *checkup) checkPeerBind(ctx context.Context) (string, error) {
	if err := c.peer(ctx); err != nil {
		return "", err
	}
	return c.bindAllowed(ctx, c.peerID, c.peerSvc)
}

func (c *checkup) checkPeerRouter(ctx context.Context) (string, error) {
	return c.routerOnline(ctx, c.peerID, c.peerSvc)
}

func (c *checkup) checkPeerBound(ctx context.Context) (string, error) {
	d, err := c.bound(ctx, c.opts.Peer, c.peerSvc)
	if err != nil {
		return "", fail(fmt.Sprintf("start %s; ztedge doctor for %s alone says why it cannot bind", c.opts.Peer, c.opts.Peer), "%v", err)
	}
	return d, nil
}

// checkDial asks the policy advisor whether the service may dial its
// peer, over which routers, and which dial rule of the topology says so.
func (c *checkup) checkDial(ctx context.Context) (string, error) {
	a, err := c.ctrl.Advice(ctx, c.identity.ID, c.peerSvc.ID)
	if err != nil {
		return "", err
	}
	top := c.opts.Topology
	var rules []int
	if top != nil {
		rules = top.PermittingRules(c.name, c.opts.Peer)
	}
	if !a.DialAllowed {
		if top != nil && len(rules) == 0 {
			return "", fail(fmt.Sprintf("add a rule such as \"- {from: [%s], to: [%s]}\" under dial: in %s, then %s",
				c.name, c.opts.Peer, c.topologyName(), c.applyCommand()),
				"%s may not dial %s: no dial rule of %s allows it, so the controller has no Dial policy for it", c.name, c.opts.Peer, c.topologyName())
		}
		if top != nil {
			return "", fail(c.applyCommand()+": the file allows it but the controller was not brought up to date",
				"%s may not dial %s: %s allows it, but the controller's Dial policy %s does not", c.name, c.opts.Peer, top.DescribeRule(rules[0]), top.DialPolicyName(rules[0]))
		}
		return "", fmt.Errorf("%s may not dial %s: no Dial service policy grants it", c.name, c.opts.Peer)
	}
	var online []string
	for _, r := range a.CommonRouters {
		if r.Online {
			online = append(online, r.Name)
		}
	}
	if len(online) == 0 {
		return "", fail("start an edge router both may use, or correct ziti.edgeRouterRoles and apply",
			"%s may dial %s, but they share no online edge router", c.name, c.opts.Peer)
	}
	why := "a Dial policy of the controller allows it"
	switch {
	case top != nil && len(rules) > 0:
		parts := make([]string, len(rules))
		for i, r := range rules {
			parts[i] = top.DescribeRule(r)
		}
		why = "allowed by " + strings.Join(parts, " and ")
	case top != nil:
		why = fmt.Sprintf("allowed by the controller, but by no dial rule of %s: a policy not made by ztedge grants it, or the file changed since the last apply", c.topologyName())
	default:
		why += " (give the topology, -f, to see which dial rule)"
	}
	return fmt.Sprintf("%s, over %s", why, strings.Join(online, ", ")), nil
}

// plural is "1 terminator", "2 terminators".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
