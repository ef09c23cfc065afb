// Package zerotrust runs one ztedge service: its EdgeX-style configuration,
// its identity, and the way it serves and calls peers, in one type,
// [Service].
//
// A service in Mode=zerotrust has no API port on the host. [New] logs in to
// Vault with the credentials provisioning wrote, fetches a JWT for the
// service's own identity, and authenticates to the Ziti controller with it
// through the external JWT signer (every re-authentication uses a fresh
// JWT). [Service.Serve] binds the Ziti service "edgex.<name>" and opens
// only a separate underlay health port that answers ping.
// [Service.HTTPClient] reaches peers over Ziti by their intercept address
// ("http://core-data.edgex.ziti"), and [Service.Dial] does the same for
// other protocols.
//
// In plain (token-based) mode the same calls serve a TCP port on which
// every route but ping requires a Vault-issued JWT, and send the service's
// own JWT to its peers. A misconfigured zerotrust service refuses to
// start: nothing ever falls back to plain mode.
//
// Handlers learn who is calling with caller.From; jwtauth, listener and
// transport are the lower-level pieces [Service] is made of.
package zerotrust
