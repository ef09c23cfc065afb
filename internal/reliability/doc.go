// Package reliability holds the fault tests and the soak of ztedge: a
// deployment across test hosts (a hub with Vault and the Ziti controller,
// a node with two edge routers hosting one service, a node with one router
// whose service calls it steadily), faults injected into it (router loss
// and restart, a cut link, the controller restarted or unreachable, the
// service process killed), and for each fault the requests that failed
// during it and after it, and the time until the service answered again.
// It has no code outside its tests; docs/reliability.md records what the
// tests measured.
package reliability
