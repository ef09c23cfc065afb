// Package provisioning turns one declarative topology file into the Vault and
// OpenZiti objects that ztedge services need: an OIDC signing key, policies,
// entities, AppRole logins and OIDC roles on the Vault side; an external JWT
// signer, an auth policy, identities, services, intercept configs, edge
// routers (with their enrolment tokens) and service, edge-router and
// service-edge-router policies on the Ziti side, and, for dependencies
// that are not Ziti-aware (a database, a broker, Vault itself), Ziti
// services with host.v1 configs that a router's tunneler hosts.
//
// Provisioning is idempotent. [Provisioner.Plan] reports what
// [Provisioner.Apply] would create, update and delete; applying the same
// topology twice changes nothing the second time; removing a service or a
// dial rule from the file and applying again removes exactly that; and
// [Provisioner.Destroy] removes every object ztedge created and nothing else.
// Every Ziti object ztedge creates carries the tag [ManagedTag]; every Vault
// entity carries the metadata "ztedge-managed=true" (Vault allows no dots in
// metadata keys), and ztedge's AppRole mount is described "managed by ztedge".
package provisioning

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ztedge/ztedge/internal/naming"
)

// ManagedTag is the tag that marks a Ziti object as created and owned by
// ztedge. Objects without it are never changed or deleted.
const ManagedTag = naming.ManagedTag

// ManagedValue is the value stored under [ManagedTag].
const ManagedValue = naming.ManagedValue

// Topology is the declarative description of a ztedge deployment: where Vault
// and the Ziti controller are, the services, who may dial whom, and extra
// client identities for tunnelers or administrators.
type Topology struct {
	// Vault says where Vault is and how ztedge uses it.
	Vault VaultSettings `yaml:"vault"`
	// Ziti says where the Ziti controller is and how to log in to it.
	Ziti ZitiSettings `yaml:"ziti"`
	// JWT sets the audience and lifetime of the identity tokens Vault issues.
	JWT JWTSettings `yaml:"jwt"`
	// Output is the folder that receives per-service Vault credentials and
	// enrolled client identity files. [LoadFile] expands a leading "~/" to
	// the user's home folder and resolves relative paths against the
	// topology file's folder.
	Output string `yaml:"output"`
	// Services are the HTTP microservices, one Ziti service each.
	Services []Service `yaml:"services"`
	// Clients are extra Ziti identities (tunnelers, admins) that are
	// enrolled and written as identity files.
	Clients []Client `yaml:"clients"`
	// Dial lists who may dial whom.
	Dial []DialRule `yaml:"dial"`
	// Routers are edge routers that ztedge creates on the controller and
	// that "ztedge router join" runs on the nodes.
	Routers []Router `yaml:"routers"`
	// Dependencies are TCP servers that are not Ziti-aware (a database, a
	// broker), hosted on the overlay by a router's tunneler.
	Dependencies []Dependency `yaml:"dependencies"`
}

// VaultSettings says where Vault is and which names ztedge uses there.
type VaultSettings struct {
	// Address is Vault's URL, e.g. http://127.0.0.1:8200.
	Address string `yaml:"address"`
	// TokenFile is a file holding a Vault token allowed to manage identity,
	// policies and auth methods. When empty, VAULT_TOKEN is used.
	TokenFile string `yaml:"tokenFile"`
	// CACert is a PEM file with the CA that signed Vault's TLS certificate.
	CACert string `yaml:"caCert"`
	// Key is the name of the OIDC signing key. Default "ztedge".
	Key string `yaml:"key"`
	// Algorithm is the OIDC key's signing algorithm. Default "ES384".
	Algorithm string `yaml:"algorithm"`
	// AuthMount is the path of the AppRole auth method that ztedge enables
	// and owns. Default "ztedge-approle".
	AuthMount string `yaml:"authMount"`
	// TokenPeriod is the period of the Vault tokens services log in with.
	// Default 1h.
	TokenPeriod Duration `yaml:"tokenPeriod"`
	// SecretsMount is the path of the KV version 1 secrets engine that
	// holds the secrets of services marked secrets: true, which EdgeX reads
	// and writes at /v1/secret/edgex/<service>/: "secret" (default) or
	// "secret/edgex". ztedge creates it when it is missing and refuses a
	// KV version 2 mount there. Unused when no service keeps secrets.
	SecretsMount string `yaml:"secretsMount"`
	// Overlay, when set, also publishes Vault on the overlay as the Ziti
	// service "ztedge.vault", hosted by a router's tunneler: services then
	// fetch fresh JWTs and renew their Vault tokens over Ziti, and need
	// an underlay path to Vault only for their first login.
	Overlay *VaultOverlay `yaml:"overlay"`
}

// ZitiSettings says where the Ziti controller is and how to log in.
type ZitiSettings struct {
	// Controller is the controller's base URL, e.g. https://127.0.0.1:1280.
	Controller string `yaml:"controller"`
	// CACert is a PEM file with the controller's CA bundle. When empty the
	// bundle is fetched from the controller's well-known endpoint.
	CACert string `yaml:"caCert"`
	// Username is the administrator's name. When empty, ZITI_USER is used.
	Username string `yaml:"username"`
	// PasswordFile holds the administrator's password. When empty,
	// ZITI_PWD is used.
	PasswordFile string `yaml:"passwordFile"`
	// EdgeRouterRoles select the edge routers ztedge identities and
	// services may use. Default ["#all"].
	EdgeRouterRoles []string `yaml:"edgeRouterRoles"`
}

// JWTSettings sets the audience and lifetime of identity tokens.
type JWTSettings struct {
	// Audience is the JWT "aud" claim and the Vault OIDC role's client ID.
	// Default "edgex".
	Audience string `yaml:"audience"`
	// TTL is the lifetime of each identity token. Default 1h.
	TTL Duration `yaml:"ttl"`
}

// Service is one HTTP microservice. It gets a Vault identity and the Ziti
// service "edgex.<name>".
type Service struct {
	// Name is the service name, e.g. core-data.
	Name string `yaml:"name"`
	// Groups are role attributes for dial rules ("group:<name>").
	Groups []string `yaml:"groups"`
	// Host is the intercept host name. Default "<name>.edgex.ziti".
	Host string `yaml:"host"`
	// Port is the intercept port. Default 80.
	Port int `yaml:"port"`
	// Auth is how the service authenticates to the controller: "jwt"
	// (the default: its Vault JWT through the external signer) or
	// "identity" (an enrolled identity file, written to
	// "<output>/clients/<name>.json", for nodes that should not depend on
	// Vault to join the overlay). Its Vault objects are made either way.
	Auth string `yaml:"auth"`
	// Routers pin the service to edge routers: entries are router names
	// from the topology's routers or "#attribute". Its identity may then
	// use only those routers. Empty: ziti.edgeRouterRoles.
	Routers []string `yaml:"routers"`
	// EdgeX marks a service built on EdgeX's go-mod-bootstrap (v4) rather
	// than on ztedge: provisioning also writes its Vault token file in
	// EdgeX's format and the environment it needs (see docs/edgex.md).
	EdgeX bool `yaml:"edgex"`
	// Secrets lets the service keep its own secrets in Vault, as EdgeX
	// services do under secret/edgex/<name>/ (database or message-bus
	// credentials): its policy grants that path on [VaultSettings.SecretsMount].
	Secrets bool `yaml:"secrets"`
}

// Values of [Service.Auth].
const (
	AuthJWT      = "jwt"
	AuthIdentity = "identity"
)

// Client is an extra Ziti identity for a tunneler or an administrator,
// enrolled with a one-time token and written to "<output>/clients/<name>.json".
type Client struct {
	// Name is the identity name.
	Name string `yaml:"name"`
	// Groups are role attributes for dial rules ("group:<name>").
	Groups []string `yaml:"groups"`
	// Routers pin the client to edge routers, as for services.
	Routers []string `yaml:"routers"`
}

// Router is an edge router of the deployment. Provisioning creates it on
// the controller with a one-time enrolment token, written to
// "<output>/routers/<name>.jwt"; "ztedge router join" on its node writes
// its configuration, enrolls it and runs it.
type Router struct {
	// Name is the router's name on the controller.
	Name string `yaml:"name"`
	// Attributes are the router's role attributes, for "#attribute"
	// entries in services' and clients' routers.
	Attributes []string `yaml:"attributes"`
	// Advertise is the host name or IP address that SDKs and other
	// routers dial to reach the router.
	Advertise string `yaml:"advertise"`
	// Port is the edge listener's port, for SDKs. Default 3022.
	Port int `yaml:"port"`
	// LinkPort is the port of a listener for links from other routers;
	// 0 (the default) opens none: the router only dials links out. It may
	// be Port: ziti then serves SDKs and links on one port.
	LinkPort int `yaml:"linkPort"`
	// Tunneler enables the router's built-in tunneler (host mode).
	Tunneler bool `yaml:"tunneler"`
}

// DialRule permits every identity in From to dial every service in To.
// Entries are service or client names, or "group:<name>" for every service
// or client in that group.
type DialRule struct {
	From []string `yaml:"from"`
	To   []string `yaml:"to"`
}

// Duration is a time.Duration read from strings such as "30s" or "1h".
type Duration time.Duration

// UnmarshalText parses a duration such as "90s" or "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML parses a duration such as "90s" or "1h" from a YAML
// value; a bad one is reported with its line, as yaml reports other type
// errors.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (write it as 90s, 30m or 1h)", n.Line, s)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}
