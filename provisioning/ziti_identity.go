package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/enroll"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/naming"
	"github.com/ztedge/ztedge/internal/secretfile"
	"github.com/ztedge/ztedge/internal/zitiid"
)

// identityKind is an identity: a service's, which authenticates with its
// Vault JWT through the external signer (matched on externalId), or one
// enrolled with a one-time token and written as an identity file (a
// client's, or a service's with auth: identity).
type identityKind struct{}

// identitySpec is the part of an identity ztedge manages.
type identitySpec struct {
	// ExternalJWT says the identity authenticates with its Vault JWT
	// through the external signer (a service); otherwise it is enrolled
	// and authenticates with the certificate of its identity file (a
	// client, or a service with auth: identity).
	ExternalJWT    bool
	ExternalID     string // with ExternalJWT: the JWT's name claim
	AuthPolicy     string // with ExternalJWT: auth policy name
	RoleAttributes []string
	IsAdmin        bool
	// IdentityFile says whether a client's identity file exists in the
	// output folder and holds the identity's certificate (desired: true).
	IdentityFile bool
	// FileProblem says what is wrong with the identity file when
	// IdentityFile is false: "missing", or why it is not the identity's.
	FileProblem string
}

func (want identitySpec) diff(have identitySpec) fieldDiffs {
	var d fieldDiffs
	if have.ExternalJWT != want.ExternalJWT {
		d.add(fmt.Sprintf("authentication: %s -> %s", identityAuth(have), identityAuth(want)))
	}
	d.str("externalId", have.ExternalID, want.ExternalID)
	d.str("authPolicy", have.AuthPolicy, want.AuthPolicy)
	d.set("roleAttributes", have.RoleAttributes, want.RoleAttributes)
	d.boolean("isAdmin", have.IsAdmin, want.IsAdmin)
	if want.IdentityFile && !have.IdentityFile {
		problem := have.FileProblem
		if problem == "" {
			problem = "missing"
		}
		d.add("identity file " + problem)
	}
	return d
}

// identityAuth names how an identity authenticates.
func identityAuth(s identitySpec) string {
	if s.ExternalJWT {
		return "Vault JWT"
	}
	return "enrolled certificate"
}

// recreatesIdentity reports whether an identity update deletes and
// re-creates the identity (an enrolled identity whose file is gone, or a
// change between JWT and certificate authentication), which gives it a
// new ID.
func recreatesIdentity(want, have identitySpec) bool {
	return want.ExternalJWT != have.ExternalJWT || (!want.ExternalJWT && !have.IdentityFile)
}

func (identityKind) kind() string { return "ziti identity" }

func (k identityKind) list(ctx context.Context, z *zitiSide) ([]zitiObject[identitySpec], error) {
	all, err := page(func(l, o int64) ([]*rest_model.IdentityDetail, error) {
		r, err := z.api.Identity.ListIdentities(&identity.ListIdentitiesParams{Context: ctx, Limit: &l, Offset: &o}, nil)
		if err != nil {
			return nil, err
		}
		return r.Payload.Data, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing identities: %w", err)
	}
	out := make([]zitiObject[identitySpec], 0, len(all))
	for _, i := range all {
		s := identitySpec{IsAdmin: isTrue(i.IsAdmin)}
		if i.RoleAttributes != nil {
			s.RoleAttributes = normSet(*i.RoleAttributes)
		}
		if ext := str(i.ExternalID); ext != "" {
			s.ExternalJWT, s.ExternalID, s.AuthPolicy = true, ext, z.nameOr(authPolicyKind{}.kind(), str(i.AuthPolicyID))
		} else if file, ok := z.identityFile(str(i.Name)); ok && isManaged(i.Tags) {
			s.IdentityFile, s.FileProblem = identityFileHolds(file, i.Authenticators)
		}
		z.remember(k.kind(), str(i.Name), str(i.ID))
		out = append(out, zitiObject[identitySpec]{Name: str(i.Name), ID: str(i.ID), Managed: isManaged(i.Tags), Spec: s})
	}
	return out, nil
}

func (k identityKind) create(ctx context.Context, z *zitiSide, o zitiObject[identitySpec]) (string, error) {
	c := &rest_model.IdentityCreate{
		Name: ptr(o.Name), IsAdmin: ptr(false), Type: ptr(rest_model.IdentityTypeDefault), Tags: managedTags(),
		RoleAttributes: ptr(rest_model.Attributes(o.Spec.RoleAttributes)),
	}
	if o.Spec.ExternalJWT {
		ap, err := z.idOf(authPolicyKind{}.kind(), o.Spec.AuthPolicy)
		if err != nil {
			return "", err
		}
		c.ExternalID, c.AuthPolicyID = ptr(o.Spec.ExternalID), &ap
	} else {
		c.Enrollment = &rest_model.IdentityCreateEnrollment{Ott: true}
	}
	r, err := z.api.Identity.CreateIdentity(&identity.CreateIdentityParams{Context: ctx, Identity: c}, nil)
	if err != nil {
		return "", err
	}
	id := r.Payload.Data.ID
	if !o.Spec.ExternalJWT {
		return id, z.enrollClient(ctx, id, o.Name)
	}
	return id, nil
}

// update changes the identity in place, or re-creates (and re-enrolls) a
// client whose identity file is gone or an identity changing between
// client and service.
func (k identityKind) update(ctx context.Context, z *zitiSide, have, want zitiObject[identitySpec]) error {
	if recreatesIdentity(want.Spec, have.Spec) {
		if err := k.remove(ctx, z, have); err != nil {
			return err
		}
		newID, err := k.create(ctx, z, want)
		if err != nil {
			return err
		}
		z.remember(k.kind(), want.Name, newID)
		return nil
	}
	upd := &rest_model.IdentityUpdate{
		Name: ptr(want.Name), IsAdmin: ptr(false), Type: ptr(rest_model.IdentityTypeDefault), Tags: managedTags(),
		RoleAttributes: ptr(rest_model.Attributes(want.Spec.RoleAttributes)),
	}
	if want.Spec.ExternalJWT {
		ap, err := z.idOf(authPolicyKind{}.kind(), want.Spec.AuthPolicy)
		if err != nil {
			return err
		}
		upd.ExternalID, upd.AuthPolicyID = ptr(want.Spec.ExternalID), &ap
	}
	_, err := z.api.Identity.UpdateIdentity(&identity.UpdateIdentityParams{Context: ctx, ID: have.ID, Identity: upd}, nil)
	return err
}

// remove deletes the identity, and a client's identity file with it.
func (identityKind) remove(ctx context.Context, z *zitiSide, o zitiObject[identitySpec]) error {
	if _, err := z.api.Identity.DeleteIdentity(&identity.DeleteIdentityParams{Context: ctx, ID: o.ID}, nil); err != nil {
		return err
	}
	if file, ok := z.identityFile(o.Name); ok && !o.Spec.ExternalJWT {
		return removeOutputFiles(z.t.Output, []string{"clients"}, filepath.Base(file))
	}
	return nil
}

// identityFile returns where the identity file of client name is, and
// false for a name ztedge never gives a client (names come from the
// controller too, and one such as "../../x" must not reach the file
// system outside <output>/clients).
func (z *zitiSide) identityFile(name string) (string, bool) {
	if !naming.ValidName(name) {
		return "", false
	}
	return credentials.IdentityPath(z.t.Output, name), true
}

// enrollClient reads the one-time enrolment token of a new client
// identity, enrols it and writes the identity file (0600, folder 0700).
func (z *zitiSide) enrollClient(ctx context.Context, id, name string) error {
	r, err := z.api.Identity.DetailIdentity(&identity.DetailIdentityParams{Context: ctx, ID: id}, nil)
	if err != nil {
		return err
	}
	d := r.Payload.Data
	if d == nil || d.Enrollment == nil || d.Enrollment.Ott == nil || d.Enrollment.Ott.JWT == "" {
		return fmt.Errorf("identity %q has no one-time enrolment token", name)
	}
	claims, tok, err := enroll.ParseToken(d.Enrollment.Ott.JWT)
	if err != nil {
		return fmt.Errorf("parsing the enrolment token of %q: %w", name, err)
	}
	var alg ziti.KeyAlgVar
	if err := alg.Set("EC"); err != nil {
		return err
	}
	cfg, err := enroll.Enroll(enroll.EnrollmentFlags{Token: claims, JwtToken: tok, JwtString: d.Enrollment.Ott.JWT, KeyAlg: alg})
	if err != nil {
		return fmt.Errorf("enrolling %q: %w", name, err)
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if _, err := outputDir(z.t.Output, "clients"); err != nil {
		return err
	}
	return secretfile.Write(credentials.IdentityPath(z.t.Output, name), out)
}

// identityFileHolds reports whether the identity file at file is the one
// of an identity with authenticators auth: it exists and holds the
// certificate the controller knows. A file left from an identity
// re-created elsewhere (another output folder) holds another certificate,
// and the controller would refuse it.
func identityFileHolds(file string, auth *rest_model.IdentityAuthenticators) (bool, string) {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return false, "missing"
	}
	got, err := zitiid.Fingerprint(file)
	if err != nil {
		return false, "unreadable"
	}
	if auth == nil || auth.Cert == nil || !strings.EqualFold(auth.Cert.Fingerprint, got) {
		return false, "holds another certificate than the identity's (enrolled again elsewhere?)"
	}
	return true, ""
}
