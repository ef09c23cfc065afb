// Command edgex-probe is a minimal EdgeX 4 service, built only on
// go-mod-bootstrap v4.0.5's normal bootstrap, the way EdgeX's own services
// are: bootstrap.Run with the clients handler, EdgeX's HTTP server handler
// (which binds edgex.<service key> in zerotrust mode, or a TCP port) and
// EdgeX's common API (ping, version, config, secret). It exists so that
// ztedge's integration test (interop/edgex_integration_test.go in the main
// module) can run unmodified EdgeX code on a ztedge network. Its own routes:
//
//	GET /api/v3/probe/caller        who called, as EdgeX sees it
//	GET /api/v3/probe/core-data     calls core-data with EdgeX's own reading client
//	GET /api/v3/probe/secret/:name  reads a secret through EdgeX's secret provider
//
// Every route but ping goes through EdgeX's authentication middleware.
// Configuration is EdgeX's: res/configuration.yaml with environment
// overrides (SERVICE_*, CLIENTS_*, SECRETSTORE_*, EDGEX_SECURITY_SECRET_STORE).
//
//	edgex-probe -cf res/configuration.yaml
package main

import (
	"context"
	"os"

	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/flags"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/handlers"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/interfaces"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/startup"
	bootstrapConfig "github.com/edgexfoundry/go-mod-bootstrap/v4/config"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/di"
	"github.com/edgexfoundry/go-mod-core-contracts/v4/common"
	"github.com/labstack/echo/v4"
)

// serviceKey is the EdgeX service key: the ztedge service name, the Vault
// OIDC role, and the Ziti service edgex.<serviceKey>.
const serviceKey = "edgex-probe"

// version is reported by EdgeX's version route.
const version = "0.0.0-ztedge-interop"

func main() {
	startupTimer := startup.NewStartUpTimer(serviceKey)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	f := flags.New()
	f.Parse(os.Args[1:])

	cfg := &Config{}
	dic := di.NewContainer(di.ServiceConstructorMap{})
	router := echo.New()

	bootstrap.Run(ctx, cancel, f, serviceKey, common.ConfigStemCore, cfg, startupTimer, dic, true,
		bootstrapConfig.ServiceTypeOther, []interfaces.BootstrapHandler{
			handlers.NewClientsBootstrap().BootstrapHandler,
			newRoutes(router).BootstrapHandler,
			handlers.NewHttpServer(router, true, serviceKey).BootstrapHandler,
			handlers.NewStartMessage(serviceKey, version).BootstrapHandler,
		})
}
