// Package depcheck holds the test that keeps ztedge's package graph
// pointing one way: the token-mode gateway helper links no Ziti code, the
// runtime never links the admin (provisioning) code, and the dependencies
// of the main binaries are listed in files reviewed with every change, in
// the spirit of tailscale's depaware.txt.
package depcheck
