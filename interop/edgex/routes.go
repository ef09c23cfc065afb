package main

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/container"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/controller"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/handlers"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/startup"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/bootstrap/zerotrust"
	"github.com/edgexfoundry/go-mod-bootstrap/v4/di"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/openziti/sdk-golang/ziti/edge"
)

// routes adds EdgeX's common API and the probe's own routes to the router,
// as an EdgeX service's bootstrap handler does.
type routes struct{ router *echo.Echo }

func newRoutes(r *echo.Echo) *routes { return &routes{router: r} }

// BootstrapHandler registers the routes; every one but ping goes through
// EdgeX's authentication middleware (Ziti identity in zerotrust mode, a
// Vault JWT otherwise).
func (rt *routes) BootstrapHandler(_ context.Context, _ *sync.WaitGroup, _ startup.Timer, dic *di.Container) bool {
	controller.NewCommonController(dic, rt.router, serviceKey, version)
	auth := handlers.AutoConfigAuthenticationFunc(dic)
	rt.router.GET("/api/v3/probe/caller", probeCaller, auth)
	rt.router.GET("/api/v3/probe/core-data", probeCoreData(dic), auth)
	rt.router.GET("/api/v3/probe/secret/:name", probeSecret(dic), auth)
	return true
}

// probeCaller answers who called: the Ziti identity of the connection in
// zerotrust mode (what EdgeX's middleware logs), else the name claim of the
// JWT EdgeX's middleware verified.
func probeCaller(c echo.Context) error {
	if conn, ok := c.Request().Context().Value(zerotrust.OpenZitiIdentityKey{}).(edge.Conn); ok {
		return c.JSON(http.StatusOK, map[string]string{"caller": conn.SourceIdentifier(), "via": "ziti"})
	}
	token := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return c.JSON(http.StatusOK, map[string]string{"caller": "", "via": "none"})
	}
	name, _ := claims["name"].(string)
	return c.JSON(http.StatusOK, map[string]string{"caller": name, "via": "jwt"})
}

// probeCoreData calls core-data with the reading client EdgeX's clients
// bootstrap made from Clients.core-data.
func probeCoreData(dic *di.Container) echo.HandlerFunc {
	return func(c echo.Context) error {
		rc := container.ReadingClientFrom(dic.Get)
		if rc == nil {
			return c.JSON(http.StatusInternalServerError, map[string]string{"error": "no core-data client: Clients.core-data is not configured"})
		}
		res, err := rc.ReadingCount(c.Request().Context())
		if err != nil {
			return c.JSON(http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]any{"count": res.Count})
	}
}

// probeSecret reads a secret through EdgeX's secret provider (Vault, at
// secret/edgex/<service key>/<name>).
func probeSecret(dic *di.Container) echo.HandlerFunc {
	return func(c echo.Context) error {
		sp := container.SecretProviderFrom(dic.Get)
		data, err := sp.GetSecret(c.Param("name"))
		if err != nil {
			return c.JSON(http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]any{"data": data})
	}
}
