// Package inspect reads what is live on a ztedge network, as an
// administrator sees it: from the Ziti controller's management API the
// identities, services, effective policies, terminators, edge routers and
// the external JWT signer; from Vault the OIDC signing key. It changes
// nothing. ztedge's doctor and status commands are built on it; the
// runtime never imports it.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/openziti/edge-api/rest_management_api_client/api_session"
	"github.com/openziti/edge-api/rest_management_api_client/auth_policy"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_management_api_client/external_jwt_signer"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/edge-api/rest_util"

	"github.com/ztedge/ztedge/internal/naming"
)

// Controller reads a Ziti controller through its edge management API.
// Create it with [NewController] from a logged-in management client.
type Controller struct {
	api *mgmt.ZitiEdgeManagement
}

// NewController wraps a management client that is already logged in (see
// provisioning.ZitiManagement).
func NewController(api *mgmt.ZitiEdgeManagement) *Controller { return &Controller{api: api} }

// Identity is what the controller knows of one identity.
type Identity struct {
	ID, Name string
	// ExternalID is matched against the JWT's name claim by the external
	// JWT signer (services); empty for enrolled clients.
	ExternalID string
	// AuthPolicyID is the identity's auth policy.
	AuthPolicyID string
	// Disabled is true while the identity is disabled.
	Disabled bool
	// HasAPISession is true while the identity has a session with the
	// controller (it authenticated and has not logged out or expired).
	HasAPISession bool
	// RouterConnected is true while the identity is connected to an edge
	// router.
	RouterConnected bool
	// SDK names the SDK and version the identity last reported, if any.
	SDK string
}

// Service is what the controller knows of one service.
type Service struct {
	ID, Name string
}

// Router is one edge router.
type Router struct {
	ID, Name string
	Online   bool
}

// Terminator is one bind of a service on an edge router: the service is
// hosted there.
type Terminator struct {
	Router, RouterID string
	// Identity is the hosting identity's ID, as the router reported it.
	Identity string
}

// Advice is the controller's verdict on an identity and a service: the
// effective result of every service policy and (service-)edge-router
// policy, as the controller's policy advisor computes it.
type Advice struct {
	BindAllowed, DialAllowed bool
	// IdentityRouters and ServiceRouters count the edge routers the
	// identity, and the service, may use.
	IdentityRouters, ServiceRouters int
	// CommonRouters are the edge routers both may use.
	CommonRouters []Router
}

// Signer is an external JWT signer.
type Signer struct {
	ID, Name       string
	Issuer         string
	Audience       string
	JWKSEndpoint   string
	ClaimsProperty string
	UseExternalID  bool
	Enabled        bool
}

// AuthPolicy is the part of an auth policy that says how identities may
// authenticate first.
type AuthPolicy struct {
	ID, Name string
	// ExtJWTAllowed and AllowedSigners: external JWTs, from which signers
	// (IDs; all when empty).
	ExtJWTAllowed  bool
	AllowedSigners []string
}

// Session is an API session: an identity that authenticated.
type Session struct {
	Identity     string
	IdentityID   string
	LastActivity time.Time
	Created      time.Time
}

// quoteFilter quotes a name for a controller filter expression, refusing
// characters the filter grammar would read as syntax.
func quoteFilter(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\"\\\n") {
		return "", fmt.Errorf("inspect: %q cannot be looked up by name", name)
	}
	return `name = "` + name + `"`, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func isTrue(p *bool) bool { return p != nil && *p }

func apiErr(what string, err error) error {
	return fmt.Errorf("inspect: %s: %w", what, rest_util.WrapErr(err))
}

// Identity returns the identity named name, nil when there is none.
func (c *Controller) Identity(ctx context.Context, name string) (*Identity, error) {
	f, err := quoteFilter(name)
	if err != nil {
		return nil, err
	}
	one := int64(1)
	r, err := c.api.Identity.ListIdentities(&identity.ListIdentitiesParams{Context: ctx, Filter: &f, Limit: &one}, nil)
	if err != nil {
		return nil, apiErr("reading identity "+name, err)
	}
	if len(r.Payload.Data) == 0 {
		return nil, nil
	}
	return identityOf(r.Payload.Data[0]), nil
}

// Identities returns every identity, by name.
func (c *Controller) Identities(ctx context.Context) (map[string]*Identity, error) {
	all, err := page(func(l, o int64) ([]*rest_model.IdentityDetail, error) {
		r, err := c.api.Identity.ListIdentities(&identity.ListIdentitiesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, apiErr("listing identities", err)
	}
	out := make(map[string]*Identity, len(all))
	for _, d := range all {
		i := identityOf(d)
		out[i.Name] = i
	}
	return out, nil
}

func identityOf(d *rest_model.IdentityDetail) *Identity {
	i := &Identity{ID: str(d.ID), Name: str(d.Name), ExternalID: str(d.ExternalID), AuthPolicyID: str(d.AuthPolicyID),
		Disabled: isTrue(d.Disabled), HasAPISession: isTrue(d.HasAPISession), RouterConnected: isTrue(d.HasEdgeRouterConnection)}
	if s := d.SdkInfo; s != nil && s.Type != "" {
		i.SDK = strings.TrimSpace(s.Type + " " + s.Version)
	}
	return i
}

// Service returns the service named name, nil when there is none.
func (c *Controller) Service(ctx context.Context, name string) (*Service, error) {
	f, err := quoteFilter(name)
	if err != nil {
		return nil, err
	}
	one := int64(1)
	r, err := c.api.Service.ListServices(&service.ListServicesParams{Context: ctx, Filter: &f, Limit: &one}, nil)
	if err != nil {
		return nil, apiErr("reading service "+name, err)
	}
	if len(r.Payload.Data) == 0 {
		return nil, nil
	}
	d := r.Payload.Data[0]
	return &Service{ID: str(d.ID), Name: str(d.Name)}, nil
}

// Advice asks the controller's policy advisor whether identity may bind
// and dial service, and over which edge routers.
func (c *Controller) Advice(ctx context.Context, identityID, serviceID string) (*Advice, error) {
	r, err := c.api.Identity.GetIdentityPolicyAdvice(&identity.GetIdentityPolicyAdviceParams{Context: ctx, ID: identityID, ServiceID: serviceID}, nil)
	if err != nil {
		return nil, apiErr("asking the policy advisor", err)
	}
	d := r.Payload.Data
	if d == nil {
		return nil, errors.New("inspect: the policy advisor gave no answer")
	}
	a := &Advice{BindAllowed: d.IsBindAllowed, DialAllowed: d.IsDialAllowed,
		IdentityRouters: int(d.IdentityRouterCount), ServiceRouters: int(d.ServiceRouterCount)}
	for _, cr := range d.CommonRouters {
		if cr != nil {
			a.CommonRouters = append(a.CommonRouters, Router{ID: cr.ID, Name: cr.Name, Online: isTrue(cr.IsOnline)})
		}
	}
	sort.Slice(a.CommonRouters, func(i, j int) bool { return a.CommonRouters[i].Name < a.CommonRouters[j].Name })
	return a, nil
}

// Terminators returns where service is bound now, one per bind.
func (c *Controller) Terminators(ctx context.Context, serviceID string) ([]Terminator, error) {
	all, err := page(func(l, o int64) ([]*rest_model.TerminatorDetail, error) {
		r, err := c.api.Service.ListServiceTerminators(&service.ListServiceTerminatorsParams{Context: ctx, ID: serviceID, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, apiErr("listing terminators", err)
	}
	out := make([]Terminator, 0, len(all))
	for _, t := range all {
		term := Terminator{RouterID: str(t.RouterID), Identity: str(t.Identity)}
		if t.Router != nil {
			term.Router = t.Router.Name
		}
		out = append(out, term)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Router < out[j].Router })
	return out, nil
}

// Routers returns every edge router, sorted by name.
func (c *Controller) Routers(ctx context.Context) ([]Router, error) {
	all, err := page(func(l, o int64) ([]*rest_model.EdgeRouterDetail, error) {
		r, err := c.api.EdgeRouter.ListEdgeRouters(&edge_router.ListEdgeRoutersParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, apiErr("listing edge routers", err)
	}
	out := make([]Router, 0, len(all))
	for _, r := range all {
		out = append(out, Router{ID: str(r.ID), Name: str(r.Name), Online: isTrue(r.IsOnline)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Signer returns the external JWT signer named name, nil when there is none.
func (c *Controller) Signer(ctx context.Context, name string) (*Signer, error) {
	f, err := quoteFilter(name)
	if err != nil {
		return nil, err
	}
	one := int64(1)
	r, err := c.api.ExternalJWTSigner.ListExternalJWTSigners(&external_jwt_signer.ListExternalJWTSignersParams{Context: ctx, Filter: &f, Limit: &one}, nil)
	if err != nil {
		return nil, apiErr("reading external JWT signer "+name, err)
	}
	if len(r.Payload.Data) == 0 {
		return nil, nil
	}
	d := r.Payload.Data[0]
	s := &Signer{ID: str(d.ID), Name: str(d.Name), Issuer: str(d.Issuer), Audience: str(d.Audience),
		ClaimsProperty: str(d.ClaimsProperty), UseExternalID: isTrue(d.UseExternalID), Enabled: isTrue(d.Enabled)}
	if d.JwksEndpoint != nil {
		s.JWKSEndpoint = d.JwksEndpoint.String()
	}
	return s, nil
}

// AuthPolicy returns the auth policy with the given ID.
func (c *Controller) AuthPolicy(ctx context.Context, id string) (*AuthPolicy, error) {
	r, err := c.api.AuthPolicy.DetailAuthPolicy(&auth_policy.DetailAuthPolicyParams{Context: ctx, ID: id}, nil)
	if err != nil {
		return nil, apiErr("reading auth policy "+id, err)
	}
	d := r.Payload.Data
	if d == nil {
		return nil, fmt.Errorf("inspect: auth policy %s: empty answer", id)
	}
	p := &AuthPolicy{ID: str(d.ID), Name: str(d.Name)}
	if d.Primary != nil && d.Primary.ExtJWT != nil {
		p.ExtJWTAllowed = isTrue(d.Primary.ExtJWT.Allowed)
		p.AllowedSigners = d.Primary.ExtJWT.AllowedSigners
	}
	return p, nil
}

// Sessions returns the legacy API sessions, newest activity first, by
// identity name (one per identity: its most recently active).
func (c *Controller) Sessions(ctx context.Context) (map[string]Session, error) {
	all, err := page(func(l, o int64) ([]*rest_model.APISessionDetail, error) {
		r, err := c.api.APISession.ListAPISessions(&api_session.ListAPISessionsParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, apiErr("listing API sessions", err)
	}
	out := map[string]Session{}
	for _, s := range all {
		sess := Session{IdentityID: str(s.IdentityID), LastActivity: time.Time(s.LastActivityAt)}
		if s.Identity != nil {
			sess.Identity = s.Identity.Name
		}
		if s.CreatedAt != nil {
			sess.Created = time.Time(*s.CreatedAt)
		}
		if prev, ok := out[sess.Identity]; !ok || sess.LastActivity.After(prev.LastActivity) {
			out[sess.Identity] = sess
		}
	}
	return out, nil
}

const pageSize = 500

// page fetches every page of a list call.
func page[T any](fetch func(limit, offset int64) ([]T, error)) ([]T, error) {
	var all []T
	for offset := int64(0); ; offset += pageSize {
		items, err := fetch(pageSize, offset)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < pageSize {
			return all, nil
		}
	}
}

// BoundRouters returns, for each of the named ztedge services that is
// bound now, the edge router it is bound on (the first by name when it is
// bound on several), for placing services in a picture.
func (c *Controller) BoundRouters(ctx context.Context, services []string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range services {
		svc, err := c.Service(ctx, naming.ZitiService(name))
		if err != nil {
			return nil, err
		}
		if svc == nil {
			continue
		}
		terms, err := c.Terminators(ctx, svc.ID)
		if err != nil {
			return nil, err
		}
		if len(terms) > 0 {
			out[name] = terms[0].Router
		}
	}
	return out, nil
}
