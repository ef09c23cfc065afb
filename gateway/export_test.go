package gateway

// The integration test of the gateway in front of zerotrust services is in
// package gateway_test (it imports gateway/overlay, which imports this
// package); it shares these helpers of integration_test.go and
// process_test.go.
var (
	BuildProxyAuth = buildProxyAuth
	StartProxyAuth = startProxyAuth
	VaultJWT       = vaultJWT
	GatewayClient  = gatewayClient
	FreePort       = freePort
	// StartUntilReady is startUntilReady.
	StartUntilReady = startUntilReady
)
