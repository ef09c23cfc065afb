package provisioning

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/go-openapi/strfmt"
	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/openziti/edge-api/rest_management_api_client/auth_policy"
	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/external_jwt_signer"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/edge-api/rest_util"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/enroll"
	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// Names of the Ziti objects ztedge creates. Per-service objects append the
// service name.
const (
	SignerName             = "ztedge-vault"
	AuthPolicyName         = "ztedge-services"
	interceptConfigPrefix  = "ztedge.intercept."
	bindPolicyPrefix       = "ztedge.bind."
	dialPolicyPrefix       = "ztedge.dial."
	edgeRouterPolicyName   = "ztedge.edge-routers"
	serviceRouterPolicyNam = "ztedge.service-edge-routers"
	interceptConfigType    = "intercept.v1"
	// JWTNameClaim is the JWT claim that carries a service's name; the
	// external JWT signer matches it against identities' externalId.
	JWTNameClaim = "name"
)

// Ziti object kinds, in the order they are created (deleted in reverse).
const (
	kindSigner     = "ziti external-jwt-signer"
	kindAuthPolicy = "ziti auth-policy"
	kindConfig     = "ziti config"
	kindIdentity   = "ziti identity"
	kindService    = "ziti service"
	kindSvcPolicy  = "ziti service-policy"
	kindERP        = "ziti edge-router-policy"
	kindSERP       = "ziti service-edge-router-policy"
)

var zitiKindOrder = []string{kindSigner, kindAuthPolicy, kindConfig, kindIdentity, kindService, kindSvcPolicy, kindERP, kindSERP}

// zitiSide provisions the Ziti controller through the edge management API.
type zitiSide struct {
	api    *mgmt.ZitiEdgeManagement
	t      *Topology
	caPool *x509.CertPool
	log    *slog.Logger

	issuer, jwksURL string

	configTypeID string
	ids          map[string]string // kind + "/" + name -> id
	names        map[string]string // id -> name (identities, services, configs, signers, auth policies)
}

// newZitiSide logs in to the controller's management API with the
// topology's administrator credentials.
func newZitiSide(ctx context.Context, t *Topology, log *slog.Logger) (*zitiSide, error) {
	caPool, err := controllerCAPool(t.Ziti.Controller, t.Ziti.CACert, log)
	if err != nil {
		return nil, err
	}
	user, pass, err := zitiAdminCredentials(t)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(t.Ziti.Controller + "/edge/management/v1")
	if err != nil {
		return nil, fmt.Errorf("ziti.controller: %w", err)
	}
	client := edgeapis.NewManagementApiClient([]*url.URL{u}, caPool, nil)
	creds := edgeapis.NewUpdbCredentials(user, pass)
	creds.CaPool = caPool
	if _, err := client.Authenticate(creds, nil); err != nil {
		return nil, fmt.Errorf("logging in to the Ziti controller at %s as %q: %w", t.Ziti.Controller, user, rest_util.WrapErr(err))
	}
	return &zitiSide{api: client.API.ZitiEdgeManagement, t: t, caPool: caPool, log: log,
		ids: map[string]string{}, names: map[string]string{}}, nil
}

// controllerCAPool loads the controller's CA bundle from caFile or, when
// none is given, fetches it from the controller (trust on first use).
func controllerCAPool(controller, caFile string, log *slog.Logger) (*x509.CertPool, error) {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ziti.caCert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ziti.caCert: %s holds no PEM certificate", caFile)
		}
		return pool, nil
	}
	log.Warn("no ziti.caCert given: trusting the controller's CA bundle on first use", "controller", controller)
	pool, err := ziti.GetControllerWellKnownCaPool(controller)
	if err != nil {
		return nil, fmt.Errorf("the Ziti controller at %s is unreachable: %w", controller, err)
	}
	return pool, nil
}

func zitiAdminCredentials(t *Topology) (user, pass string, err error) {
	user = t.Ziti.Username
	if user == "" {
		user = os.Getenv("ZITI_USER")
	}
	if user == "" {
		return "", "", errors.New("ziti.username: missing (and ZITI_USER is not set)")
	}
	if t.Ziti.PasswordFile != "" {
		b, err := os.ReadFile(t.Ziti.PasswordFile)
		if err != nil {
			return "", "", fmt.Errorf("ziti.passwordFile: %w", err)
		}
		pass = strings.TrimSpace(string(b))
	} else {
		pass = os.Getenv("ZITI_PWD")
	}
	if pass == "" {
		return "", "", errors.New("ziti.passwordFile: missing (and ZITI_PWD is not set)")
	}
	return user, pass, nil
}

// managedTags are the tags every ztedge-created Ziti object carries.
func managedTags() *rest_model.Tags {
	return &rest_model.Tags{SubTags: rest_model.SubTags{ManagedTag: ManagedValue}}
}

func isManaged(tags *rest_model.Tags) bool {
	if tags == nil {
		return false
	}
	switch v := tags.SubTags[ManagedTag].(type) {
	case string:
		return v == ManagedValue
	case bool:
		return v
	}
	return false
}

// desired computes the Ziti objects the topology calls for, by kind.
func (z *zitiSide) desired() map[string][]object {
	t := z.t
	d := map[string][]object{}
	d[kindSigner] = []object{{Name: SignerName, Fields: map[string]string{
		"issuer": z.issuer, "audience": t.JWT.Audience, "jwksEndpoint": z.jwksURL,
		"claimsProperty": JWTNameClaim, "useExternalId": "true", "enabled": "true",
	}}}
	d[kindAuthPolicy] = []object{{Name: AuthPolicyName, Fields: map[string]string{
		"primary.extJwt.allowed": "true", "primary.extJwt.allowedSigners": SignerName,
		"primary.cert.allowed": "false", "primary.updb.allowed": "false",
	}}}
	var identities, services []string
	for _, s := range t.Services {
		cfg, _ := json.Marshal(map[string]any{
			"protocols":  []string{"tcp"},
			"addresses":  []string{s.Host},
			"portRanges": []map[string]int{{"low": s.Port, "high": s.Port}},
		})
		d[kindConfig] = append(d[kindConfig], object{Name: interceptConfigPrefix + s.Name, Fields: map[string]string{
			"configType": interceptConfigType, "data": canonicalJSON(cfg),
		}})
		d[kindIdentity] = append(d[kindIdentity], object{Name: s.Name, Fields: map[string]string{
			"role": "service", "externalId": s.Name, "authPolicy": AuthPolicyName,
			"roleAttributes": joinSorted(s.Groups), "isAdmin": "false",
		}})
		d[kindService] = append(d[kindService], object{Name: ZitiServiceName(s.Name), Fields: map[string]string{
			"configs": interceptConfigPrefix + s.Name, "roleAttributes": joinSorted(s.Groups),
			"encryptionRequired": "true",
		}})
		d[kindSvcPolicy] = append(d[kindSvcPolicy], object{Name: bindPolicyPrefix + s.Name, Fields: map[string]string{
			"type": "Bind", "semantic": "AnyOf", "identityRoles": "@" + s.Name, "serviceRoles": "@" + ZitiServiceName(s.Name),
		}})
		identities = append(identities, "@"+s.Name)
		services = append(services, "@"+ZitiServiceName(s.Name))
	}
	for _, c := range t.Clients {
		d[kindIdentity] = append(d[kindIdentity], object{Name: c.Name, Fields: map[string]string{
			"role": "client", "roleAttributes": joinSorted(c.Groups), "isAdmin": "false", "identityFile": "present",
		}})
		identities = append(identities, "@"+c.Name)
	}
	dialers := t.Dialers()
	for _, s := range t.Services {
		from := dialers[s.Name]
		if len(from) == 0 {
			continue
		}
		roles := make([]string, len(from))
		for i, f := range from {
			roles[i] = "@" + f
		}
		d[kindSvcPolicy] = append(d[kindSvcPolicy], object{Name: dialPolicyPrefix + s.Name, Fields: map[string]string{
			"type": "Dial", "semantic": "AnyOf", "identityRoles": joinSorted(roles), "serviceRoles": "@" + ZitiServiceName(s.Name),
		}})
	}
	d[kindERP] = []object{{Name: edgeRouterPolicyName, Fields: map[string]string{
		"semantic": "AnyOf", "identityRoles": joinSorted(identities), "edgeRouterRoles": joinSorted(t.Ziti.EdgeRouterRoles),
	}}}
	d[kindSERP] = []object{{Name: serviceRouterPolicyNam, Fields: map[string]string{
		"semantic": "AnyOf", "serviceRoles": joinSorted(services), "edgeRouterRoles": joinSorted(t.Ziti.EdgeRouterRoles),
	}}}
	return d
}

// canonicalJSON re-encodes JSON with sorted keys so that equal documents
// compare equal as strings.
func canonicalJSON(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// plan lists the existing objects of every kind and compares them with the
// desired ones. Creates and updates come in dependency order, deletes after
// them in reverse order.
func (z *zitiSide) plan(ctx context.Context, issuer, jwksURL string) ([]Change, error) {
	z.issuer, z.jwksURL = issuer, jwksURL
	existing, err := z.listAll(ctx)
	if err != nil {
		return nil, err
	}
	return z.planAgainst(ctx, z.desired(), existing)
}

// destroyPlan deletes every ztedge-managed object, in reverse dependency order.
func (z *zitiSide) destroyPlan(ctx context.Context) ([]Change, error) {
	existing, err := z.listAll(ctx)
	if err != nil {
		return nil, err
	}
	return z.planAgainst(ctx, map[string][]object{}, existing)
}

func (z *zitiSide) planAgainst(ctx context.Context, desired, existing map[string][]object) ([]Change, error) {
	var changes, deletes []Change
	var errs []error
	recreated := map[string]bool{} // identities that get a new ID
	for _, kind := range zitiKindOrder {
		d, err := diffObjects(kind, desired[kind], existing[kind])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if kind == kindIdentity {
			for _, u := range d.Updates {
				if recreatesIdentity(u) {
					recreated[u.Desired.Name] = true
				}
			}
		}
		if kind == kindSvcPolicy || kind == kindERP {
			d.Updates = append(d.Updates, refreshRoles(desired[kind], existing[kind], d.Updates, recreated)...)
		}
		for _, o := range d.Creates {
			changes = append(changes, Change{Op: OpCreate, Kind: kind, Name: o.Name, apply: z.creator(kind, o)})
		}
		for _, u := range d.Updates {
			changes = append(changes, Change{Op: OpUpdate, Kind: kind, Name: u.Desired.Name,
				Detail: strings.Join(u.Changed, ", ") + " differ", apply: z.updater(kind, u)})
		}
		var kindDeletes []Change
		for _, o := range d.Deletes {
			kindDeletes = append(kindDeletes, Change{Op: OpDelete, Kind: kind, Name: o.Name, apply: z.deleter(kind, o)})
		}
		deletes = append(kindDeletes, deletes...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return append(changes, deletes...), nil
}

// recreatesIdentity reports whether an identity update deletes and
// re-creates the identity (a client whose identity file is gone, or a
// change between client and service), which gives it a new ID.
func recreatesIdentity(u objectUpdate) bool {
	f, e := u.Desired.Fields, u.Existing.Fields
	return f["role"] != e["role"] || (f["role"] == "client" && e["identityFile"] != "present")
}

// refreshRoles returns updates for the existing policies that name a
// re-created identity (by its old ID) and are not updated anyway, so they
// name its new ID after the same apply.
func refreshRoles(desired, existing []object, updates []objectUpdate, recreated map[string]bool) []objectUpdate {
	if len(recreated) == 0 {
		return nil
	}
	updating := map[string]bool{}
	for _, u := range updates {
		updating[u.Desired.Name] = true
	}
	byName := map[string]object{}
	for _, e := range existing {
		byName[e.Name] = e
	}
	var out []objectUpdate
	for _, o := range desired {
		e, ok := byName[o.Name]
		if !ok || !e.Managed || updating[o.Name] {
			continue
		}
		for _, r := range splitField(o.Fields["identityRoles"]) {
			if name, ok := strings.CutPrefix(r, "@"); ok && recreated[name] {
				out = append(out, objectUpdate{Desired: o, Existing: e, Changed: []string{"identityRoles (" + name + " is re-created)"}})
				break
			}
		}
	}
	return out
}

const pageSize = 500

// page fetches every page of a list call.
func page[T any](fetch func(limit, offset int64) ([]T, error)) ([]T, error) {
	var all []T
	for offset := int64(0); ; offset += pageSize {
		items, err := fetch(pageSize, offset)
		if err != nil {
			return nil, rest_util.WrapErr(err)
		}
		all = append(all, items...)
		if len(items) < pageSize {
			return all, nil
		}
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolStr(p *bool) string {
	if p != nil && *p {
		return "true"
	}
	return "false"
}

// remember records an object's ID and name for reference resolution.
func (z *zitiSide) remember(kind, name, id string) {
	z.ids[kind+"/"+name] = id
	z.names[id] = name
}

// roleNames turns "@<id>" roles into "@<name>" for comparison.
func (z *zitiSide) roleNames(roles []string) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		if id, ok := strings.CutPrefix(r, "@"); ok {
			if n, known := z.names[id]; known {
				r = "@" + n
			}
		}
		out[i] = r
	}
	return joinSorted(out)
}

// roleIDs turns "@<name>" roles of the given kind into "@<id>" for the API.
func (z *zitiSide) roleIDs(kind, field string) (rest_model.Roles, error) {
	var out rest_model.Roles
	for _, r := range splitField(field) {
		if n, ok := strings.CutPrefix(r, "@"); ok {
			id, known := z.ids[kind+"/"+n]
			if !known {
				if kind == "" { // a router given by ID
					out = append(out, r)
					continue
				}
				return nil, fmt.Errorf("%s %q does not exist", kind, n)
			}
			r = "@" + id
		}
		out = append(out, r)
	}
	return out, nil
}

func (z *zitiSide) idOf(kind, name string) (string, error) {
	id, ok := z.ids[kind+"/"+name]
	if !ok {
		return "", fmt.Errorf("%s %q does not exist", kind, name)
	}
	return id, nil
}

// listAll reads every object of the kinds ztedge manages.
func (z *zitiSide) listAll(ctx context.Context) (map[string][]object, error) {
	api := z.api
	out := map[string][]object{}
	add := func(kind string, id, name *string, tags *rest_model.Tags, fields map[string]string) {
		z.remember(kind, str(name), str(id))
		out[kind] = append(out[kind], object{Name: str(name), ID: str(id), Managed: isManaged(tags), Fields: fields})
	}

	// The intercept.v1 config type.
	cts, err := page(func(l, o int64) ([]*rest_model.ConfigTypeDetail, error) {
		f := fmt.Sprintf(`name = "%s"`, interceptConfigType)
		r, err := api.Config.ListConfigTypes(&config.ListConfigTypesParams{Context: ctx, Filter: &f, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing config types: %w", err)
	}
	for _, ct := range cts {
		z.configTypeID = str(ct.ID)
		z.names[z.configTypeID] = interceptConfigType
	}
	if z.configTypeID == "" {
		return nil, fmt.Errorf("the controller has no %s config type", interceptConfigType)
	}

	signers, err := page(func(l, o int64) ([]*rest_model.ExternalJWTSignerDetail, error) {
		r, err := api.ExternalJWTSigner.ListExternalJWTSigners(&external_jwt_signer.ListExternalJWTSignersParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing external JWT signers: %w", err)
	}
	for _, s := range signers {
		jwks := ""
		if s.JwksEndpoint != nil {
			jwks = s.JwksEndpoint.String()
		}
		add(kindSigner, s.ID, s.Name, s.Tags, map[string]string{
			"issuer": str(s.Issuer), "audience": str(s.Audience), "jwksEndpoint": jwks,
			"claimsProperty": str(s.ClaimsProperty), "useExternalId": boolStr(s.UseExternalID), "enabled": boolStr(s.Enabled),
		})
	}

	aps, err := page(func(l, o int64) ([]*rest_model.AuthPolicyDetail, error) {
		r, err := api.AuthPolicy.ListAuthPolicies(&auth_policy.ListAuthPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing auth policies: %w", err)
	}
	for _, a := range aps {
		f := map[string]string{}
		if p := a.Primary; p != nil {
			if p.ExtJWT != nil {
				f["primary.extJwt.allowed"] = boolStr(p.ExtJWT.Allowed)
				signers := make([]string, len(p.ExtJWT.AllowedSigners))
				for i, id := range p.ExtJWT.AllowedSigners {
					signers[i] = z.nameOr(id)
				}
				f["primary.extJwt.allowedSigners"] = joinSorted(signers)
			}
			if p.Cert != nil {
				f["primary.cert.allowed"] = boolStr(p.Cert.Allowed)
			}
			if p.Updb != nil {
				f["primary.updb.allowed"] = boolStr(p.Updb.Allowed)
			}
		}
		add(kindAuthPolicy, a.ID, a.Name, a.Tags, f)
	}

	cfgs, err := page(func(l, o int64) ([]*rest_model.ConfigDetail, error) {
		r, err := api.Config.ListConfigs(&config.ListConfigsParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	for _, c := range cfgs {
		data, _ := json.Marshal(c.Data)
		add(kindConfig, c.ID, c.Name, c.Tags, map[string]string{
			"configType": z.nameOr(str(c.ConfigTypeID)), "data": canonicalJSON(data),
		})
	}

	ids, err := page(func(l, o int64) ([]*rest_model.IdentityDetail, error) {
		r, err := api.Identity.ListIdentities(&identity.ListIdentitiesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing identities: %w", err)
	}
	for _, i := range ids {
		f := map[string]string{"isAdmin": boolStr(i.IsAdmin)}
		if i.RoleAttributes != nil {
			f["roleAttributes"] = joinSorted(*i.RoleAttributes)
		} else {
			f["roleAttributes"] = ""
		}
		if str(i.ExternalID) != "" {
			f["role"] = "service"
			f["externalId"] = str(i.ExternalID)
			f["authPolicy"] = z.nameOr(str(i.AuthPolicyID))
		} else {
			f["role"] = "client"
			if _, err := os.Stat(credentials.IdentityPath(z.t.Output, str(i.Name))); err == nil {
				f["identityFile"] = "present"
			} else {
				f["identityFile"] = "missing"
			}
		}
		add(kindIdentity, i.ID, i.Name, i.Tags, f)
	}

	svcs, err := page(func(l, o int64) ([]*rest_model.ServiceDetail, error) {
		r, err := api.Service.ListServices(&service.ListServicesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	for _, s := range svcs {
		configs := make([]string, len(s.Configs))
		for i, id := range s.Configs {
			configs[i] = z.nameOr(id)
		}
		attrs := ""
		if s.RoleAttributes != nil {
			attrs = joinSorted(*s.RoleAttributes)
		}
		add(kindService, s.ID, s.Name, s.Tags, map[string]string{
			"configs": joinSorted(configs), "roleAttributes": attrs, "encryptionRequired": boolStr(s.EncryptionRequired),
		})
	}

	sps, err := page(func(l, o int64) ([]*rest_model.ServicePolicyDetail, error) {
		r, err := api.ServicePolicy.ListServicePolicies(&service_policy.ListServicePoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing service policies: %w", err)
	}
	for _, p := range sps {
		typ, sem := "", ""
		if p.Type != nil {
			typ = string(*p.Type)
		}
		if p.Semantic != nil {
			sem = string(*p.Semantic)
		}
		add(kindSvcPolicy, p.ID, p.Name, p.Tags, map[string]string{
			"type": typ, "semantic": sem, "identityRoles": z.roleNames(p.IdentityRoles), "serviceRoles": z.roleNames(p.ServiceRoles),
		})
	}

	erps, err := page(func(l, o int64) ([]*rest_model.EdgeRouterPolicyDetail, error) {
		r, err := api.EdgeRouterPolicy.ListEdgeRouterPolicies(&edge_router_policy.ListEdgeRouterPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing edge router policies: %w", err)
	}
	for _, p := range erps {
		sem := ""
		if p.Semantic != nil {
			sem = string(*p.Semantic)
		}
		add(kindERP, p.ID, p.Name, p.Tags, map[string]string{
			"semantic": sem, "identityRoles": z.roleNames(p.IdentityRoles), "edgeRouterRoles": joinSorted(p.EdgeRouterRoles),
		})
	}

	serps, err := page(func(l, o int64) ([]*rest_model.ServiceEdgeRouterPolicyDetail, error) {
		r, err := api.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(&service_edge_router_policy.ListServiceEdgeRouterPoliciesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing service edge router policies: %w", err)
	}
	for _, p := range serps {
		sem := ""
		if p.Semantic != nil {
			sem = string(*p.Semantic)
		}
		add(kindSERP, p.ID, p.Name, p.Tags, map[string]string{
			"semantic": sem, "serviceRoles": z.roleNames(p.ServiceRoles), "edgeRouterRoles": joinSorted(p.EdgeRouterRoles),
		})
	}
	return out, nil
}

func (z *zitiSide) nameOr(id string) string {
	if n, ok := z.names[id]; ok {
		return n
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// creator returns the closure that creates object o of the given kind.
func (z *zitiSide) creator(kind string, o object) func(context.Context) error {
	return func(ctx context.Context) error {
		id, err := z.create(ctx, kind, o)
		if err != nil {
			return rest_util.WrapErr(err)
		}
		z.remember(kind, o.Name, id)
		if kind == kindSigner {
			// Controller 1.6.0 drops the tags of a new external JWT signer
			// (its create mapping ignores them) but keeps them on update:
			// set them with an update so the signer is known as ztedge's.
			if err := z.update(ctx, kind, objectUpdate{Desired: o, Existing: object{ID: id, Name: o.Name}}); err != nil {
				return rest_util.WrapErr(err)
			}
		}
		if kind == kindIdentity && o.Fields["role"] == "client" {
			return z.enrollClient(ctx, id, o.Name)
		}
		return nil
	}
}

func (z *zitiSide) create(ctx context.Context, kind string, o object) (string, error) {
	api, f := z.api, o.Fields
	name := ptr(o.Name)
	switch kind {
	case kindSigner:
		jwks := strfmt.URI(f["jwksEndpoint"])
		r, err := api.ExternalJWTSigner.CreateExternalJWTSigner(&external_jwt_signer.CreateExternalJWTSignerParams{Context: ctx,
			ExternalJWTSigner: &rest_model.ExternalJWTSignerCreate{
				Name: name, Issuer: ptr(f["issuer"]), Audience: ptr(f["audience"]), JwksEndpoint: &jwks,
				ClaimsProperty: ptr(f["claimsProperty"]), UseExternalID: ptr(true), Enabled: ptr(true), Tags: managedTags(),
			}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindAuthPolicy:
		ap, err := z.authPolicyModel(f)
		if err != nil {
			return "", err
		}
		ap.Name = name
		r, err := api.AuthPolicy.CreateAuthPolicy(&auth_policy.CreateAuthPolicyParams{Context: ctx, AuthPolicy: ap}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindConfig:
		var data any
		if err := json.Unmarshal([]byte(f["data"]), &data); err != nil {
			return "", err
		}
		r, err := api.Config.CreateConfig(&config.CreateConfigParams{Context: ctx, Config: &rest_model.ConfigCreate{
			Name: name, ConfigTypeID: ptr(z.configTypeID), Data: data, Tags: managedTags(),
		}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindIdentity:
		c := &rest_model.IdentityCreate{
			Name: name, IsAdmin: ptr(false), Type: ptr(rest_model.IdentityTypeDefault), Tags: managedTags(),
			RoleAttributes: ptr(rest_model.Attributes(splitField(f["roleAttributes"]))),
		}
		if f["role"] == "service" {
			ap, err := z.idOf(kindAuthPolicy, f["authPolicy"])
			if err != nil {
				return "", err
			}
			c.ExternalID, c.AuthPolicyID = ptr(f["externalId"]), &ap
		} else {
			c.Enrollment = &rest_model.IdentityCreateEnrollment{Ott: true}
		}
		r, err := api.Identity.CreateIdentity(&identity.CreateIdentityParams{Context: ctx, Identity: c}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindService:
		configs, err := z.refIDs(kindConfig, f["configs"])
		if err != nil {
			return "", err
		}
		r, err := api.Service.CreateService(&service.CreateServiceParams{Context: ctx, Service: &rest_model.ServiceCreate{
			Name: name, Configs: configs, RoleAttributes: splitField(f["roleAttributes"]),
			EncryptionRequired: ptr(f["encryptionRequired"] == "true"), Tags: managedTags(),
		}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindSvcPolicy:
		idr, err := z.roleIDs(kindIdentity, f["identityRoles"])
		if err != nil {
			return "", err
		}
		svr, err := z.roleIDs(kindService, f["serviceRoles"])
		if err != nil {
			return "", err
		}
		r, err := api.ServicePolicy.CreateServicePolicy(&service_policy.CreateServicePolicyParams{Context: ctx, Policy: &rest_model.ServicePolicyCreate{
			Name: name, Type: ptr(rest_model.DialBind(f["type"])), Semantic: ptr(rest_model.Semantic(f["semantic"])),
			IdentityRoles: idr, ServiceRoles: svr, PostureCheckRoles: rest_model.Roles{}, Tags: managedTags(),
		}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindERP:
		idr, err := z.roleIDs(kindIdentity, f["identityRoles"])
		if err != nil {
			return "", err
		}
		r, err := api.EdgeRouterPolicy.CreateEdgeRouterPolicy(&edge_router_policy.CreateEdgeRouterPolicyParams{Context: ctx, Policy: &rest_model.EdgeRouterPolicyCreate{
			Name: name, Semantic: ptr(rest_model.Semantic(f["semantic"])), IdentityRoles: idr,
			EdgeRouterRoles: rest_model.Roles(splitField(f["edgeRouterRoles"])), Tags: managedTags(),
		}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	case kindSERP:
		svr, err := z.roleIDs(kindService, f["serviceRoles"])
		if err != nil {
			return "", err
		}
		r, err := api.ServiceEdgeRouterPolicy.CreateServiceEdgeRouterPolicy(&service_edge_router_policy.CreateServiceEdgeRouterPolicyParams{Context: ctx, Policy: &rest_model.ServiceEdgeRouterPolicyCreate{
			Name: name, Semantic: ptr(rest_model.Semantic(f["semantic"])), ServiceRoles: svr,
			EdgeRouterRoles: rest_model.Roles(splitField(f["edgeRouterRoles"])), Tags: managedTags(),
		}}, nil)
		if err != nil {
			return "", err
		}
		return r.Payload.Data.ID, nil
	}
	return "", fmt.Errorf("unknown kind %s", kind)
}

func (z *zitiSide) refIDs(kind, field string) ([]string, error) {
	var out []string
	for _, n := range splitField(field) {
		id, err := z.idOf(kind, n)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (z *zitiSide) authPolicyModel(f map[string]string) (*rest_model.AuthPolicyCreate, error) {
	signers, err := z.refIDs(kindSigner, f["primary.extJwt.allowedSigners"])
	if err != nil {
		return nil, err
	}
	if signers == nil {
		signers = []string{}
	}
	return &rest_model.AuthPolicyCreate{
		Tags: managedTags(),
		Primary: &rest_model.AuthPolicyPrimary{
			Cert:   &rest_model.AuthPolicyPrimaryCert{Allowed: ptr(f["primary.cert.allowed"] == "true"), AllowExpiredCerts: ptr(false)},
			ExtJWT: &rest_model.AuthPolicyPrimaryExtJWT{Allowed: ptr(f["primary.extJwt.allowed"] == "true"), AllowedSigners: signers},
			Updb: &rest_model.AuthPolicyPrimaryUpdb{Allowed: ptr(f["primary.updb.allowed"] == "true"),
				LockoutDurationMinutes: ptr(int64(0)), MaxAttempts: ptr(int64(5)), MinPasswordLength: ptr(int64(12)),
				RequireMixedCase: ptr(true), RequireNumberChar: ptr(true), RequireSpecialChar: ptr(true)},
		},
		Secondary: &rest_model.AuthPolicySecondary{RequireTotp: ptr(false)},
	}, nil
}

// updater returns the closure that brings an existing object to its desired state.
func (z *zitiSide) updater(kind string, u objectUpdate) func(context.Context) error {
	return func(ctx context.Context) error {
		return rest_util.WrapErr(z.update(ctx, kind, u))
	}
}

func (z *zitiSide) update(ctx context.Context, kind string, u objectUpdate) error {
	api, f, id := z.api, u.Desired.Fields, u.Existing.ID
	name := ptr(u.Desired.Name)
	switch kind {
	case kindSigner:
		jwks := strfmt.URI(f["jwksEndpoint"])
		_, err := api.ExternalJWTSigner.UpdateExternalJWTSigner(&external_jwt_signer.UpdateExternalJWTSignerParams{Context: ctx, ID: id,
			ExternalJWTSigner: &rest_model.ExternalJWTSignerUpdate{
				Name: name, Issuer: ptr(f["issuer"]), Audience: ptr(f["audience"]), JwksEndpoint: &jwks,
				ClaimsProperty: ptr(f["claimsProperty"]), UseExternalID: ptr(true), Enabled: ptr(true), Tags: managedTags(),
			}}, nil)
		return err
	case kindAuthPolicy:
		ap, err := z.authPolicyModel(f)
		if err != nil {
			return err
		}
		ap.Name = name
		_, err = api.AuthPolicy.UpdateAuthPolicy(&auth_policy.UpdateAuthPolicyParams{Context: ctx, ID: id, AuthPolicy: &rest_model.AuthPolicyUpdate{AuthPolicyCreate: *ap}}, nil)
		return err
	case kindConfig:
		if u.Existing.Fields["configType"] != f["configType"] {
			// The config type cannot change in place.
			if err := z.remove(ctx, kind, u.Existing); err != nil {
				return err
			}
			newID, err := z.create(ctx, kind, u.Desired)
			if err == nil {
				z.remember(kind, u.Desired.Name, newID)
			}
			return err
		}
		var data any
		if err := json.Unmarshal([]byte(f["data"]), &data); err != nil {
			return err
		}
		_, err := api.Config.UpdateConfig(&config.UpdateConfigParams{Context: ctx, ID: id, Config: &rest_model.ConfigUpdate{
			Name: name, Data: data, Tags: managedTags(),
		}}, nil)
		return err
	case kindIdentity:
		if recreatesIdentity(u) {
			// A client whose identity file is gone, or an identity changing
			// between client and service, is re-created (and re-enrolled).
			if err := z.remove(ctx, kind, u.Existing); err != nil {
				return err
			}
			return z.creator(kind, u.Desired)(ctx)
		}
		upd := &rest_model.IdentityUpdate{
			Name: name, IsAdmin: ptr(false), Type: ptr(rest_model.IdentityTypeDefault), Tags: managedTags(),
			RoleAttributes: ptr(rest_model.Attributes(splitField(f["roleAttributes"]))),
		}
		if f["role"] == "service" {
			ap, err := z.idOf(kindAuthPolicy, f["authPolicy"])
			if err != nil {
				return err
			}
			upd.ExternalID, upd.AuthPolicyID = ptr(f["externalId"]), &ap
		}
		_, err := api.Identity.UpdateIdentity(&identity.UpdateIdentityParams{Context: ctx, ID: id, Identity: upd}, nil)
		return err
	case kindService:
		configs, err := z.refIDs(kindConfig, f["configs"])
		if err != nil {
			return err
		}
		_, err = api.Service.UpdateService(&service.UpdateServiceParams{Context: ctx, ID: id, Service: &rest_model.ServiceUpdate{
			Name: name, Configs: configs, RoleAttributes: splitField(f["roleAttributes"]),
			EncryptionRequired: f["encryptionRequired"] == "true", Tags: managedTags(),
		}}, nil)
		return err
	case kindSvcPolicy:
		idr, err := z.roleIDs(kindIdentity, f["identityRoles"])
		if err != nil {
			return err
		}
		svr, err := z.roleIDs(kindService, f["serviceRoles"])
		if err != nil {
			return err
		}
		_, err = api.ServicePolicy.UpdateServicePolicy(&service_policy.UpdateServicePolicyParams{Context: ctx, ID: id, Policy: &rest_model.ServicePolicyUpdate{
			Name: name, Type: ptr(rest_model.DialBind(f["type"])), Semantic: ptr(rest_model.Semantic(f["semantic"])),
			IdentityRoles: idr, ServiceRoles: svr, PostureCheckRoles: rest_model.Roles{}, Tags: managedTags(),
		}}, nil)
		return err
	case kindERP:
		idr, err := z.roleIDs(kindIdentity, f["identityRoles"])
		if err != nil {
			return err
		}
		_, err = api.EdgeRouterPolicy.UpdateEdgeRouterPolicy(&edge_router_policy.UpdateEdgeRouterPolicyParams{Context: ctx, ID: id, Policy: &rest_model.EdgeRouterPolicyUpdate{
			Name: name, Semantic: ptr(rest_model.Semantic(f["semantic"])), IdentityRoles: idr,
			EdgeRouterRoles: rest_model.Roles(splitField(f["edgeRouterRoles"])), Tags: managedTags(),
		}}, nil)
		return err
	case kindSERP:
		svr, err := z.roleIDs(kindService, f["serviceRoles"])
		if err != nil {
			return err
		}
		_, err = api.ServiceEdgeRouterPolicy.UpdateServiceEdgeRouterPolicy(&service_edge_router_policy.UpdateServiceEdgeRouterPolicyParams{Context: ctx, ID: id, Policy: &rest_model.ServiceEdgeRouterPolicyUpdate{
			Name: name, Semantic: ptr(rest_model.Semantic(f["semantic"])), ServiceRoles: svr,
			EdgeRouterRoles: rest_model.Roles(splitField(f["edgeRouterRoles"])), Tags: managedTags(),
		}}, nil)
		return err
	}
	return fmt.Errorf("unknown kind %s", kind)
}

// deleter returns the closure that deletes an existing managed object.
func (z *zitiSide) deleter(kind string, o object) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := z.remove(ctx, kind, o); err != nil {
			return rest_util.WrapErr(err)
		}
		if kind == kindIdentity && o.Fields["role"] == "client" {
			if err := os.Remove(credentials.IdentityPath(z.t.Output, o.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	}
}

func (z *zitiSide) remove(ctx context.Context, kind string, o object) error {
	api, id := z.api, o.ID
	var err error
	switch kind {
	case kindSigner:
		_, err = api.ExternalJWTSigner.DeleteExternalJWTSigner(&external_jwt_signer.DeleteExternalJWTSignerParams{Context: ctx, ID: id}, nil)
	case kindAuthPolicy:
		_, err = api.AuthPolicy.DeleteAuthPolicy(&auth_policy.DeleteAuthPolicyParams{Context: ctx, ID: id}, nil)
	case kindConfig:
		_, err = api.Config.DeleteConfig(&config.DeleteConfigParams{Context: ctx, ID: id}, nil)
	case kindIdentity:
		_, err = api.Identity.DeleteIdentity(&identity.DeleteIdentityParams{Context: ctx, ID: id}, nil)
	case kindService:
		_, err = api.Service.DeleteService(&service.DeleteServiceParams{Context: ctx, ID: id}, nil)
	case kindSvcPolicy:
		_, err = api.ServicePolicy.DeleteServicePolicy(&service_policy.DeleteServicePolicyParams{Context: ctx, ID: id}, nil)
	case kindERP:
		_, err = api.EdgeRouterPolicy.DeleteEdgeRouterPolicy(&edge_router_policy.DeleteEdgeRouterPolicyParams{Context: ctx, ID: id}, nil)
	case kindSERP:
		_, err = api.ServiceEdgeRouterPolicy.DeleteServiceEdgeRouterPolicy(&service_edge_router_policy.DeleteServiceEdgeRouterPolicyParams{Context: ctx, ID: id}, nil)
	default:
		err = fmt.Errorf("unknown kind %s", kind)
	}
	return err
}

// enrollClient reads the one-time enrolment token of a new client
// identity, enrols it and writes the identity file (0600, folder 0700).
func (z *zitiSide) enrollClient(ctx context.Context, id, name string) error {
	r, err := z.api.Identity.DetailIdentity(&identity.DetailIdentityParams{Context: ctx, ID: id}, nil)
	if err != nil {
		return rest_util.WrapErr(err)
	}
	d := r.Payload.Data
	if d == nil || d.Enrollment == nil || d.Enrollment.Ott == nil || d.Enrollment.Ott.JWT == "" {
		return fmt.Errorf("identity %q has no one-time enrolment token", name)
	}
	claims, tok, err := enroll.ParseToken(d.Enrollment.Ott.JWT)
	if err != nil {
		return fmt.Errorf("parsing the enrolment token of %q: %w", name, err)
	}
	var alg ziti.KeyAlgVar
	if err := alg.Set("EC"); err != nil {
		return err
	}
	cfg, err := enroll.Enroll(enroll.EnrollmentFlags{Token: claims, JwtToken: tok, JwtString: d.Enrollment.Ott.JWT, KeyAlg: alg})
	if err != nil {
		return fmt.Errorf("enrolling %q: %w", name, err)
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return secretfile.Write(credentials.IdentityPath(z.t.Output, name), out)
}
