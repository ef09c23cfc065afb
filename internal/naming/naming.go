// Package naming holds the conventions that ztedge's runtime and its
// provisioning share, so both sides derive the same names: the Ziti service
// and intercept address of a service, the default JWT audience and claim,
// and the markers of objects ztedge owns.
package naming

import (
	"regexp"
	"strings"
)

const (
	// ServicePrefix starts the Ziti service of every ztedge service, as in
	// EdgeX: service core-data binds "edgex.core-data".
	ServicePrefix = "edgex."
	// InterceptDomain is the domain of intercept addresses: peers dial
	// "core-data.edgex.ziti:80".
	InterceptDomain = "edgex.ziti"
	// InterceptPort is the port of intercept addresses.
	InterceptPort = 80
	// DefaultAudience is the aud claim of the services' JWTs, as in EdgeX.
	DefaultAudience = "edgex"
	// NameClaim is the JWT claim carrying the service's name; the external
	// JWT signer matches it to an identity's externalId.
	NameClaim = "name"
	// ManagedTag marks a Ziti object as created and owned by ztedge.
	ManagedTag = "ztedge.managed"
	// ManagedValue is the value of [ManagedTag].
	ManagedValue = "true"
	// VaultManagedKey is the entity metadata key marking a Vault entity as
	// ztedge's (Vault allows no dots in metadata keys).
	VaultManagedKey = "ztedge-managed"
)

// ZitiService is the Ziti service a service binds: "edgex.<name>".
func ZitiService(service string) string { return ServicePrefix + service }

// ServiceOf returns the service name of a Ziti service named by
// [ZitiService], and false for any other name.
func ServiceOf(zitiService string) (string, bool) {
	name, ok := strings.CutPrefix(zitiService, ServicePrefix)
	return name, ok && name != ""
}

// InterceptHost is the intercept host name of a service: "<name>.edgex.ziti".
func InterceptHost(service string) string { return service + "." + InterceptDomain }

// nameRE is the rule for service, client and user names: they become Vault
// entity, policy and role names, Ziti identity and service names, and DNS
// labels.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,61}[a-z0-9]$`)

// NameRule says in words what [ValidName] accepts.
const NameRule = "2 to 63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen"

// ValidName reports whether name is a valid service, client or user name
// (see [NameRule]).
func ValidName(name string) bool { return nameRE.MatchString(name) }
