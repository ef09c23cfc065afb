// Package interop holds ztedge's tests against other projects' code: an
// unmodified EdgeX 4 service (the module in interop/edgex, built with
// EdgeX's own dependency versions) on a network ztedge provisioned, next to
// ztedge services, in zerotrust and in token mode. It has no code of its
// own; see docs/edgex.md for what the tests show.
package interop
