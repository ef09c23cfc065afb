// Package multihost runs a Vault and OpenZiti network across test hosts
// (internal/testhosts): a hub with Vault's dev server and the Ziti
// quickstart (controller and its own router), and nodes that each run an
// edge router of their own.
//
// JoinRouter joins a router with the ziti CLI alone, each step a command
// line one can replay by hand (the prototype of "ztedge router join").
// TestIntegrationDeployment deploys the way docs/deployment.md describes:
// "ztedge provision apply" on the hub, "ztedge router join" on the nodes,
// ztedge services pinned to their node's router, a client on a laptop.
package multihost
