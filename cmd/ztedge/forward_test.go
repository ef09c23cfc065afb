package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/zerotrust"
)

func forwardConfig(t *testing.T) *zerotrust.Config {
	t.Helper()
	cfg, err := zerotrust.ParseConfig([]byte(`Service:
  Name: beta
  SecurityOptions:
    Mode: zerotrust
    OpenZitiController: https://127.0.0.1:1280
    VaultCredentialsFile: /nonexistent/credentials.json
Clients:
  redis:
    Protocol: tcp
    Port: 6379
    SecurityOptions:
      Mode: zerotrust
  metrics:
    Host: 127.0.0.1
    Port: 9090
    SecurityOptions:
      Mode: plain
`))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestForwardRoutes(t *testing.T) {
	cfg := forwardConfig(t)
	routes, err := forwardRoutes(cfg, []string{"redis=16379", "redis=[::1]:16380"})
	require.NoError(t, err)
	require.Len(t, routes, 2)
	assert.Equal(t, "redis.edgex.ziti:6379", routes[0].target, "the dependency's intercept address")
	assert.Equal(t, "127.0.0.1:16379", routes[0].listen.String())
	assert.Equal(t, "[::1]:16380", routes[1].listen.String())

	for arg, want := range map[string]string{
		"redis":                 "want PEER=[ADDRESS:]PORT",
		"nobody=1":              `the configuration has no client "nobody"`,
		"metrics=1":             `client "metrics" is not in zerotrust mode`,
		"redis=198.51.100.1:80": "is not a loopback address",
		"redis=x":               `forward: "redis=x"`,
	} {
		_, err := forwardRoutes(cfg, []string{arg})
		assert.ErrorContains(t, err, want, arg)
	}
}

func TestForwardNeedsConfigAndRoutes(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runForward(context.Background(), []string{"redis=16379"}, &out, &errOut)
	var ue usageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "-config CONFIG.yaml is required")
	err = runForward(context.Background(), []string{"-config", "x.yaml"}, &out, &errOut)
	assert.ErrorContains(t, err, "nothing to forward")
}
