// Package tunnel puts programs that do not speak Ziti (curl, Postman, a
// browser, a legacy client) on the overlay as one client identity: it
// forwards local TCP ports to Ziti services and, optionally, serves an
// HTTP forward proxy for the services' intercept names
// (http://core-data.edgex.ziti). Everything it does goes through one SDK
// context authenticated with an enrolled identity file.
//
// Whoever can connect to a tunnel's ports acts as its identity, with no
// credential of their own. So the listeners bind loopback by default, and
// an address other hosts can reach is refused unless the caller sets
// [Options.AllowNonLoopback].
//
// The package is internal: "ztedge tunnel" is the product, and services
// that want the overlay embed the zerotrust package instead.
package tunnel
