// Package multihost runs a Vault and OpenZiti network across test hosts
// (internal/testhosts): a hub with Vault's dev server and the Ziti
// quickstart (controller and its own router), and nodes that each join an
// edge router of their own. It is the prototype of what "ztedge router
// join" must do, written with the ziti CLI so that each step is a command
// line one can replay by hand.
package multihost
