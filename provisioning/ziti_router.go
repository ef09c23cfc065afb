package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_model"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/secretfile"
)

// routerKind is an edge router of the topology. It is created with a
// one-time enrolment token, which is written to
// "<output>/routers/<name>.jwt" for "ztedge router join" on the node.
type routerKind struct{}

// routerSpec is the part of an edge router ztedge manages.
type routerSpec struct {
	RoleAttributes []string
	Tunneler       bool
	// TokenProblem says, for a router that is not enrolled yet, why the
	// node cannot enrol it with the token file in the output folder:
	// the file is missing or outdated, or the token expired. Empty for a
	// desired router and for an enrolled one.
	TokenProblem string
}

func (want routerSpec) diff(have routerSpec) fieldDiffs {
	var d fieldDiffs
	d.set("roleAttributes", have.RoleAttributes, want.RoleAttributes)
	d.boolean("isTunnelerEnabled", have.Tunneler, want.Tunneler)
	if have.TokenProblem != "" && want.TokenProblem == "" {
		d.add(have.TokenProblem)
	}
	return d
}

// tokenMargin is how long before it expires an enrolment token counts as
// expired: enough to copy it to the node and run "router join".
const tokenMargin = 5 * time.Minute

// Problems with a router's enrolment token, as plans show them.
const (
	tokenMissing  = "enrolment token file missing"
	tokenOutdated = "enrolment token file outdated"
	tokenExpired  = "enrolment token expired"
)

func (routerKind) kind() string { return "ziti edge-router" }

// anyRouterKind names every edge router on the controller, ztedge's or
// not, among remembered IDs: routers named as dependency hosts.
const anyRouterKind = "ziti edge-router (any)"

func (k routerKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[routerSpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.EdgeRouterDetail, error) {
		r, err := z.api.EdgeRouter.ListEdgeRouters(&edge_router.ListEdgeRoutersParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing edge routers: %w", err)
	}
	out := make([]zitiObject[routerSpec], 0, len(all))
	for _, r := range all {
		o := zitiObject[routerSpec]{Name: str(r.Name), ID: str(r.ID), Managed: isManaged(r.Tags),
			Spec: routerSpec{Tunneler: isTrue(r.IsTunnelerEnabled)}}
		if r.RoleAttributes != nil {
			o.Spec.RoleAttributes = normSet(*r.RoleAttributes)
		}
		// Any router may host a dependency with its tunneler.
		z.remember(anyRouterKind, o.Name, o.ID)
		if o.Managed {
			// Only ztedge's routers are named in roles by name: an
			// "@<id>" in ziti.edgeRouterRoles stays as written.
			z.remember(k.kind(), o.Name, o.ID)
			if !isTrue(r.IsVerified) {
				o.Spec.TokenProblem = tokenProblem(z.t.Output, o.Name, str(r.EnrollmentJWT), (*time.Time)(r.EnrollmentExpiresAt), time.Now())
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// tokenProblem says why the token file of a router that is not enrolled
// is not usable, or "" when it is.
func tokenProblem(output, name, jwt string, expires *time.Time, now time.Time) string {
	if jwt == "" || expires == nil || expires.Before(now.Add(tokenMargin)) {
		return tokenExpired
	}
	b, err := os.ReadFile(credentials.RouterTokenPath(output, name))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return tokenMissing
	case err != nil || !bytes.Equal(bytes.TrimSpace(b), []byte(jwt)):
		return tokenOutdated
	}
	return ""
}

func (k routerKind) create(ctx context.Context, z *zitiSide, o zitiObject[routerSpec]) (string, error) {
	r, err := z.api.EdgeRouter.CreateEdgeRouter(&edge_router.CreateEdgeRouterParams{Context: ctx, EdgeRouter: &rest_model.EdgeRouterCreate{
		Name: ptr(o.Name), RoleAttributes: ptr(rest_model.Attributes(o.Spec.RoleAttributes)),
		IsTunnelerEnabled: o.Spec.Tunneler, Tags: managedTags(),
	}}, nil)
	if err != nil {
		return "", err
	}
	id := r.Payload.Data.ID
	z.remember(anyRouterKind, o.Name, id)
	return id, z.writeRouterToken(ctx, id, o.Name, false)
}

// update changes the router's attributes and tunneler in place, and
// writes its enrolment token anew (re-issued when it expired) for a
// router that is not enrolled yet. An enrolled router's certificates are
// never touched.
func (k routerKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[routerSpec]) error {
	if !sameSet(have.Spec.RoleAttributes, want.Spec.RoleAttributes) || have.Spec.Tunneler != want.Spec.Tunneler {
		_, err := z.api.EdgeRouter.UpdateEdgeRouter(&edge_router.UpdateEdgeRouterParams{Context: ctx, ID: have.ID, EdgeRouter: &rest_model.EdgeRouterUpdate{
			Name: ptr(want.Name), RoleAttributes: ptr(rest_model.Attributes(want.Spec.RoleAttributes)),
			IsTunnelerEnabled: want.Spec.Tunneler, Tags: managedTags(),
		}}, nil)
		if err != nil {
			return err
		}
	}
	if have.Spec.TokenProblem == "" {
		return nil
	}
	return z.writeRouterToken(ctx, have.ID, want.Name, have.Spec.TokenProblem == tokenExpired)
}

// remove deletes the router, and its token file with it.
func (routerKind) remove(ctx context.Context, z *zitiSide, o zitiObject[routerSpec]) error {
	if _, err := z.api.EdgeRouter.DeleteEdgeRouter(&edge_router.DeleteEdgeRouterParams{Context: ctx, ID: o.ID}, nil); err != nil {
		return err
	}
	return removeOutputFiles(z.t.Output, []string{"routers"}, filepath.Base(credentials.RouterTokenPath("", o.Name)))
}

// writeRouterToken writes the router's enrolment token to its file (0600,
// folder 0700), asking the controller for a new one first when reissue
// is set.
func (z *zitiSide) writeRouterToken(ctx context.Context, id, name string, reissue bool) error {
	if reissue {
		if _, err := z.api.EdgeRouter.ReEnrollEdgeRouter(&edge_router.ReEnrollEdgeRouterParams{Context: ctx, ID: id}, nil); err != nil {
			return fmt.Errorf("re-issuing the enrolment token: %w", err)
		}
	}
	r, err := z.api.EdgeRouter.DetailEdgeRouter(&edge_router.DetailEdgeRouterParams{Context: ctx, ID: id}, nil)
	if err != nil {
		return err
	}
	if r.Payload.Data == nil || str(r.Payload.Data.EnrollmentJWT) == "" {
		return fmt.Errorf("edge router %q has no enrolment token", name)
	}
	if _, err := outputDir(z.t.Output, "routers"); err != nil {
		return err
	}
	return secretfile.Write(credentials.RouterTokenPath(z.t.Output, name), []byte(str(r.Payload.Data.EnrollmentJWT)+"\n"))
}

// routerRoleIDs turns the edge-router roles of a policy into the API's
// form: "@<name>" of a router of the topology becomes "@<id>"; "#attribute"
// and any other "@<id>" (from ziti.edgeRouterRoles) pass unchanged.
func (z *zitiSide) routerRoleIDs(roles []string) (rest_model.Roles, error) {
	declared := routerNames(z.t.Routers)
	out := rest_model.Roles{}
	for _, r := range roles {
		if n, ok := strings.CutPrefix(r, "@"); ok && declared[n] {
			id, err := z.idOf(routerKind{}.kind(), n)
			if err != nil {
				return nil, err
			}
			r = "@" + id
		}
		out = append(out, r)
	}
	return out, nil
}
