package zerotrust

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/ztedge/ztedge/internal/ctrlca"
	"github.com/ztedge/ztedge/internal/metrics"
	"github.com/ztedge/ztedge/internal/zitiid"
)

// connectWithIdentity authenticates to the controller with the enrolled
// identity file of sec (its certificate and key), trusting the controller
// only through the CA bundle the file got at enrolment. The identity must
// be the service's own (service is its name; "" skips the check only for a
// service without a name, which Validate allows in plain mode).
func connectWithIdentity(ctx context.Context, sec settings, service string, log *slog.Logger, m *metrics.Metrics) (*overlay, error) {
	unsetSDKDebug(log)
	file := sec.identityFile
	cfg, id, err := zitiid.Load(file)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: %s: %w", KeyIdentityFile, err)
	}
	ztAPI := zitiid.Controllers(cfg)[0]
	controller := strings.TrimSuffix(ztAPI, "/edge/client/v1")
	if sec.hasController && sec.controller != controller {
		return nil, fmt.Errorf("zerotrust: %s is %s, but the identity file %s was enrolled with the controller at %s",
			KeyController, sec.controller, file, controller)
	}
	if err := zitiid.Probe(ctx, ztAPI, id.CA()); err != nil {
		return nil, fmt.Errorf("zerotrust: %s: %w", KeyIdentityFile, err)
	}
	creds := edgeapis.NewIdentityCredentials(id)
	creds.ConfigTypes = []string{ziti.InterceptV1}
	cfg.Credentials = creds
	cfg.ConfigTypes = creds.ConfigTypes
	cfg.CtrlProxy = ctrlca.NoProxy
	zctx, err := ziti.NewContext(cfg)
	if err != nil {
		return nil, fmt.Errorf("zerotrust: ziti context from %s: %w", file, err)
	}
	o := &overlay{zctx: zctx, controller: controller, with: "the identity file " + file, log: log}
	if err := o.authenticate(ctx, overlayAuthTimeout); err != nil {
		zctx.Close()
		return nil, err
	}
	name, err := o.identity()
	if err != nil {
		zctx.Close()
		return nil, fmt.Errorf("zerotrust: reading the identity's name from the controller at %s: %w", controller, err)
	}
	if service != "" && name != service {
		zctx.Close()
		return nil, fmt.Errorf("zerotrust: %s %s is the identity %q, not this service's (%q): callers would see the wrong name",
			KeyIdentityFile, file, name, service)
	}
	o.watch(m)
	return o, nil
}
