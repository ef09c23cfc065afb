package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	mgmt "github.com/openziti/edge-api/rest_management_api_client"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/edge-api/rest_util"
	edgeapis "github.com/openziti/sdk-golang/edge-apis"

	"github.com/ztedge/ztedge/internal/configfile"
	"github.com/ztedge/ztedge/internal/ctrlca"
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
	// ControllerCAPinFile is the file in the topology's output folder that
	// holds the controller's CA bundle trusted on first use, when the
	// topology names no ziti.caCert.
	ControllerCAPinFile = "ziti-controller-ca.pem"
)

// Stages of the controller's changes: creates and updates kind by kind in
// dependency order, then deletes in the order of zitiDeleteOrder.
const (
	stageZitiUpsert = 0  // + the kind's index
	stageZitiDelete = 50 // + the kind's index in zitiDeleteOrder
)

// zitiDeleteOrder is the order in which kinds are deleted. Dial policies
// go first: each removes the dial links between its identities and
// services in one transaction, where deleting the identities first would
// remove the same links identity by identity, rewriting the services'
// link pages once per identity (at 1,000 services in five groups, 200,000
// links). Services and identities go next: the controller drops them from
// the policies that name them as it deletes them, at a cost that grows
// with their own links only. A policy, created or deleted, is evaluated
// against every identity and service on the controller (Ziti 1.6), so
// deleting the Bind policies after the entities they cover costs a
// fraction of deleting them before: at 1,000 services, minutes against
// seconds. Routers go after the policies that name them, configs after
// the services that use them, the auth policy after its identities, the
// signer after its auth policy.
var zitiDeleteOrder = []string{
	dialPolicyDeletes,
	identityKind{}.kind(), serviceKind{}.kind(),
	servicePolicyKind{}.kind(), routerPolicyKind{}.kind(), serviceRouterPolicyKind{}.kind(),
	routerKind{}.kind(), configKind{}.kind(), authPolicyKind{}.kind(), signerKind{}.kind(),
}

// dialPolicyDeletes is the place of Dial policies in zitiDeleteOrder; the
// service policy kind puts them there with [deleteStager].
const dialPolicyDeletes = "ziti service-policy (dial)"

// zitiDeleteStage is the stage of a kind's deletes.
func zitiDeleteStage(kind string) int {
	i := slices.Index(zitiDeleteOrder, kind)
	if i < 0 {
		panic("provisioning: no delete order for " + kind) // a kind added without one
	}
	return stageZitiDelete + i
}

// zitiSide provisions the Ziti controller through the edge management API.
type zitiSide struct {
	api *mgmt.ZitiEdgeManagement
	t   *Topology
	log *slog.Logger

	issuer, jwksURL string
	// hostedErrs are problems found while computing the desired objects
	// of hosted dependencies (a hosting router that does not exist).
	hostedErrs []error

	mu    sync.Mutex
	ids   map[string]string // kind + "/" + name -> id
	names map[string]string // kind + "/" + id -> name (IDs are unique per kind only: a router, its identity and its system policy share one)
}

// newZitiSide logs in to the controller's management API with the
// topology's administrator credentials, trusting the controller with
// ziti.caCert or with the bundle pinned on first use.
func newZitiSide(ctx context.Context, t *Topology, log *slog.Logger) (*zitiSide, error) {
	user, pass, err := zitiAdminCredentials(t)
	if err != nil {
		return nil, err
	}
	caPool, err := ctrlca.Load(ctx, ctrlca.Options{
		Controller: t.Ziti.Controller,
		CAFile:     t.Ziti.CACert,
		PinFile:    filepath.Join(t.Output, ControllerCAPinFile),
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("ziti.controller: %w", err)
	}
	u, err := url.Parse(t.Ziti.Controller + "/edge/management/v1")
	if err != nil {
		return nil, fmt.Errorf("ziti.controller: %w", err)
	}
	// The SDK's transport keeps two idle connections per host, so with
	// maxParallel requests in flight most requests would pay a new TLS
	// handshake, on both sides.
	components := edgeapis.NewComponentsWithConfig(&edgeapis.ComponentsConfig{Proxy: ctrlca.NoProxy})
	components.TlsAwareTransport.GetTlsClientConfig().RootCAs = caPool
	components.CaPool = caPool
	if tr, ok := components.TlsAwareTransport.(*edgeapis.TlsAwareHttpTransport); ok {
		tr.MaxIdleConnsPerHost = maxParallel
	}
	client := edgeapis.NewManagementApiClientWithConfig(&edgeapis.ApiClientConfig{
		ApiUrls: []*url.URL{u}, CaPool: caPool, Components: components,
		TotpCodeProvider: edgeapis.NewTotpCodeProviderFromChStringFunc(nil),
	})
	creds := edgeapis.NewUpdbCredentials(user, pass)
	creds.CaPool = caPool
	if _, err := client.Authenticate(creds, nil); err != nil {
		return nil, fmt.Errorf("logging in to the Ziti controller at %s as %q: %w", t.Ziti.Controller, user, rest_util.WrapErr(err))
	}
	return newZitiSideWith(client.API.ZitiEdgeManagement, t, log), nil
}

// newZitiSideWith returns a zitiSide over an authenticated management API.
func newZitiSideWith(api *mgmt.ZitiEdgeManagement, t *Topology, log *slog.Logger) *zitiSide {
	return &zitiSide{api: api, t: t, log: log, ids: map[string]string{}, names: map[string]string{}}
}

// zitiAdminCredentials returns the administrator's name and password from
// the topology, or ZITI_USER and ZITI_PWD.
func zitiAdminCredentials(t *Topology) (user, pass string, err error) {
	user = t.Ziti.Username
	if user == "" {
		user = os.Getenv("ZITI_USER")
	}
	if user == "" {
		return "", "", errors.New("ziti.username: missing (and ZITI_USER is not set)")
	}
	if t.Ziti.PasswordFile != "" {
		b, err := configfile.Read(t.Ziti.PasswordFile)
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

// remember records an object's ID and name for reference resolution.
func (z *zitiSide) remember(kind, name, id string) {
	z.mu.Lock()
	z.ids[kind+"/"+name] = id
	z.names[kind+"/"+id] = name
	z.mu.Unlock()
}

// nameOr returns the name of the object of a kind with ID id, or id when
// unknown.
func (z *zitiSide) nameOr(kind, id string) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	if n, ok := z.names[kind+"/"+id]; ok {
		return n
	}
	return id
}

// idOf returns the ID of the named object of a kind.
func (z *zitiSide) idOf(kind, name string) (string, error) {
	z.mu.Lock()
	id, ok := z.ids[kind+"/"+name]
	z.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%s %q does not exist", kind, name)
	}
	return id, nil
}

// idsOf returns the IDs of the named objects of a kind.
func (z *zitiSide) idsOf(kind string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		id, err := z.idOf(kind, n)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// roleNames turns "@<id>" roles of a kind into "@<name>" for comparison.
func (z *zitiSide) roleNames(kind string, roles []string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		if id, ok := strings.CutPrefix(r, "@"); ok {
			r = "@" + z.nameOr(kind, id)
		}
		out[i] = r
	}
	return normSet(out)
}

// roleIDs turns "@<name>" roles of a kind into "@<id>" for the API;
// "#attribute" roles pass unchanged.
func (z *zitiSide) roleIDs(kind string, roles []string) (rest_model.Roles, error) {
	out := rest_model.Roles{}
	for _, r := range roles {
		if n, ok := strings.CutPrefix(r, "@"); ok {
			id, err := z.idOf(kind, n)
			if err != nil {
				return nil, err
			}
			r = "@" + id
		}
		out = append(out, r)
	}
	return out, nil
}
