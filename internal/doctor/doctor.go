// Package doctor answers "why can't X reach Y?" for a ztedge network. It
// checks, in order, each link of the chain a service needs to serve and to
// reach a peer (configuration, credentials file, Vault, the JWT, the
// controller and its CA, the external JWT signer and the identity,
// authentication, Bind policy, edge routers, the bind itself, and the Dial
// policy with the dial rule that permits it) and stops at the first broken
// link, saying what is wrong and how to fix it. It reuses the runtime's own
// code for each step (configuration loading, the credentials file, the
// Vault client and login, the JWT source, the controller CA, the runtime's
// start) and reads the controller as an administrator for the rest. It
// changes nothing on the service's side: no file is written next to the
// service, no policy is touched (the administrator's login pins the
// controller's CA in the topology's output folder on first use, as
// provisioning does).
package doctor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/inspect"
	"github.com/ztedge/ztedge/provisioning"
	"github.com/ztedge/ztedge/zerotrust"
)

// Options say what to check.
type Options struct {
	// ConfigFile is the service's configuration file, read exactly as the
	// service reads it (zerotrust.LoadConfig, environment overrides
	// included). When empty, the service is Service of Topology,
	// configured as provisioning left it.
	ConfigFile string
	// Topology, if not nil, is the deployment (see provisioning.LoadFile):
	// it gives the administrator login for the controller-side checks and
	// the dial rules, and, without ConfigFile, the service's settings.
	// Without it the administrator is taken from ZITI_USER and ZITI_PWD,
	// and the controller-side checks are skipped when those are not set.
	Topology *provisioning.Topology
	// TopologyFile names the topology in messages and fix hints.
	TopologyFile string
	// Service is the service to check when ConfigFile is empty.
	Service string
	// Peer, if set, is a service the service calls: the doctor also checks
	// that the peer is bound now and that the service may dial it.
	Peer string
	// StepTimeout bounds each step. Default 45 s.
	StepTimeout time.Duration
}

// Status is the outcome of one step.
type Status string

// The outcomes of a step.
const (
	OK      Status = "ok"
	Failed  Status = "fail"
	Skipped Status = "skip"
)

// Result is the outcome of one step.
type Result struct {
	// Step is the step's name, e.g. "vault-login" (see [Steps]).
	Step string `json:"step"`
	// Title says what the step checks, e.g. "core-data may dial core-metadata".
	Title string `json:"title"`
	// Status is ok, fail or skip.
	Status Status `json:"status"`
	// Detail is what was found (ok), what is wrong (fail), or why the step
	// was skipped.
	Detail string `json:"detail"`
	// Fix says how to repair a failed step.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of a check-up, step by step, up to the first
// failure.
type Report struct {
	// Service is the service checked; Peer the peer it calls, if any.
	Service string `json:"service"`
	Peer    string `json:"peer,omitempty"`
	// Results are the steps run, in order; a failed step is the last.
	Results []Result `json:"results"`
	// NotRun counts the steps after a failure.
	NotRun int `json:"notRun"`
}

// Failure is the failed step, nil when none failed.
func (r *Report) Failure() *Result {
	for i := range r.Results {
		if r.Results[i].Status == Failed {
			return &r.Results[i]
		}
	}
	return nil
}

// Result returns the result of the named step, nil when it did not run.
func (r *Report) Result(step string) *Result {
	for i := range r.Results {
		if r.Results[i].Step == step {
			return &r.Results[i]
		}
	}
	return nil
}

// problem is a step's failure with a fix of its own, overriding the
// step's general one.
type problem struct {
	msg, fix string
}

func (p *problem) Error() string { return p.msg }

// fail makes a failure with a specific fix.
func fail(fix, format string, args ...any) error {
	return &problem{msg: fmt.Sprintf(format, args...), fix: fix}
}

// errSkip marks a step that could not run for want of something optional.
type errSkip struct{ why string }

func (e errSkip) Error() string { return e.why }

// checkup is the state the steps share.
type checkup struct {
	opts Options
	log  *slog.Logger // discards: the runtime's own logging is not the report

	// Filled in by the steps, in order.
	cfg        *zerotrust.Config
	name       string
	credsFile  string
	creds      *credentials.Service
	vault      *vaultapi.Client
	jwt        string
	claims     jwtClaims
	controller string
	caFile     string // CA bundle to start the runtime with ("" = the service's own settings)
	ctrl       *inspect.Controller
	adminSkip  string // why the controller-side checks are skipped
	signer     *inspect.Signer
	identity   *inspect.Identity
	peerID     *inspect.Identity
	peerSvc    *inspect.Service
	ownSvc     *inspect.Service
	cleanup    []func()
}

// Run checks the service (and its peer) link by link and stops at the
// first broken link. It never returns an error: every problem, bad options
// included, is a failed step of the report.
func Run(ctx context.Context, opts Options) *Report {
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 45 * time.Second
	}
	c := &checkup{opts: opts, log: slog.New(slog.DiscardHandler), name: opts.Service}
	defer func() {
		for _, f := range c.cleanup {
			f()
		}
	}()
	rep := &Report{Service: opts.Service, Peer: opts.Peer}
	chain := serviceChain
	if opts.Peer != "" {
		chain = pairChain
	}
	for i, s := range chain {
		res := Result{Step: s.name, Title: c.title(s, c.subject(s))}
		if s.admin && c.ctrl == nil {
			res.Status, res.Detail = Skipped, c.adminSkip
			rep.Results = append(rep.Results, res)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
		detail, err := s.run(c, sctx)
		cancel()
		rep.Service = c.name
		res.Title = c.title(s, c.subject(s))
		var skip errSkip
		var p *problem
		switch {
		case err == nil:
			res.Status, res.Detail = OK, detail
		case errors.As(err, &skip):
			res.Status, res.Detail = Skipped, skip.why
		default:
			res.Status, res.Detail, res.Fix = Failed, err.Error(), s.fix
			if errors.As(err, &p) && p.fix != "" {
				res.Fix = p.fix
			}
			res.Fix = strings.ReplaceAll(res.Fix, genericApply, c.applyCommand())
		}
		rep.Results = append(rep.Results, res)
		if res.Status == Failed {
			rep.NotRun = len(chain) - i - 1
			break
		}
	}
	return rep
}

// title fills in a step's title.
func (c *checkup) title(s step, subject string) string {
	return strings.NewReplacer("{subject}", subject, "{peer}", c.opts.Peer).Replace(s.title)
}

func (c *checkup) subject(s step) string {
	switch {
	case s.peer:
		return c.opts.Peer
	case c.name == "" && c.opts.ConfigFile != "":
		return c.opts.ConfigFile // a configuration that does not load names no service
	}
	return c.name
}

// genericApply is the provisioning command in fix hints, made specific by
// applyCommand when the topology file is known.
const genericApply = "ztedge provision apply -f TOPOLOGY.yaml"

// applyCommand is the provisioning command for the topology at hand.
func (c *checkup) applyCommand() string {
	f := c.opts.TopologyFile
	if f == "" {
		f = "TOPOLOGY.yaml"
	}
	return "ztedge provision apply -f " + f
}

// step is one link of the chain.
type step struct {
	// name identifies the step in reports and tests.
	name string
	// title says what is checked; {subject} is the subject (the service,
	// or the peer for peer steps), {peer} the peer.
	title string
	// fix is the general repair; a failure may give a more specific one.
	fix string
	// admin steps read the controller as an administrator.
	admin bool
	// peer steps are about the peer rather than the service.
	peer bool
	run  func(*checkup, context.Context) (string, error)
}

// The steps, in the order they run.
var (
	stepConfig = step{name: "config", title: "configuration of {subject} is valid",
		fix: "correct the setting the error names; docs/runtime.md lists every key and its environment variable", run: (*checkup).checkConfig}
	stepCredentials = step{name: "credentials", title: "credentials file of {subject} is readable and private",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml, which writes <output>/services/<name>/credentials.json with mode 0600", run: (*checkup).checkCredentials}
	stepVault = step{name: "vault", title: "Vault is reachable",
		fix: "start Vault, or correct vaultAddress in the credentials file (or Service.SecurityOptions.VaultAddress)", run: (*checkup).checkVault}
	stepLogin = step{name: "vault-login", title: "{subject} logs in to Vault (AppRole)",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it issues a new secret ID when the file's is no longer valid; then restart the service", run: (*checkup).checkLogin}
	stepJWT = step{name: "jwt", title: "Vault issues the JWT of {subject}",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it creates the OIDC key, role and policy the JWT needs", run: (*checkup).checkJWT}
	stepController = step{name: "controller", title: "controller is reachable and its CA trusted",
		fix: "start the controller, or correct Service.SecurityOptions.OpenZitiController", run: (*checkup).checkController}
	stepAdmin = step{name: "admin", title: "administrator login to the controller",
		fix: "correct ziti.username and ziti.passwordFile in the topology (or ZITI_USER and ZITI_PWD)", run: (*checkup).checkAdmin}
	stepSigner = step{name: "signer", title: "the JWT matches the controller's external JWT signer",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it configures the signer from Vault's discovery document", admin: true, run: (*checkup).checkSigner}
	stepIdentity = step{name: "identity", title: "identity {subject} matches the JWT",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it creates the identity with the JWT's name as external ID", admin: true, run: (*checkup).checkIdentity}
	stepAuth = step{name: "authenticate", title: "{subject} authenticates to the controller with its JWT",
		fix: "the controller refused the JWT: run ztedge doctor with the topology (-f) to check the signer and the identity", run: (*checkup).checkAuthenticate}
	stepBind = step{name: "bind-policy", title: "{subject} may bind its Ziti service",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it creates the Bind policy ztedge.bind.<name>", admin: true, run: (*checkup).checkBind}
	stepRouter = step{name: "router", title: "an edge router {subject} may use is online",
		fix: "start the edge router, or make ziti.edgeRouterRoles in the topology select one that runs, and apply", admin: true, run: (*checkup).checkRouter}
	stepBound = step{name: "bound", title: "{subject} is bound now",
		fix: "start the service; its log (and GET <ping path>?ready on its health port) says why it cannot bind", admin: true, run: (*checkup).checkBound}
	stepPeerBind = step{name: "peer-bind-policy", title: "{subject} may bind its Ziti service",
		fix: "run ztedge provision apply -f TOPOLOGY.yaml: it creates the Bind policy ztedge.bind.<name>", admin: true, peer: true, run: (*checkup).checkPeerBind}
	stepPeerRouter = step{name: "peer-router", title: "an edge router {subject} may use is online",
		fix: "start the edge router, or make ziti.edgeRouterRoles in the topology select one that runs, and apply", admin: true, peer: true, run: (*checkup).checkPeerRouter}
	stepPeerBound = step{name: "peer-bound", title: "{subject} is bound now",
		fix: "start the peer; ztedge doctor for the peer alone says why it cannot bind", admin: true, peer: true, run: (*checkup).checkPeerBound}
	stepDial = step{name: "dial", title: "{subject} may dial {peer}",
		fix: "add a dial rule to the topology and run ztedge provision apply", admin: true, run: (*checkup).checkDial}

	// serviceChain checks one service: can it start and serve?
	serviceChain = []step{stepConfig, stepCredentials, stepVault, stepLogin, stepJWT, stepController, stepAdmin,
		stepSigner, stepIdentity, stepAuth, stepBind, stepRouter, stepBound}
	// pairChain checks that a service can call its peer: the service
	// starts, the peer is bound, and the Dial policy lets one reach the other.
	pairChain = []step{stepConfig, stepCredentials, stepVault, stepLogin, stepJWT, stepController, stepAdmin,
		stepSigner, stepIdentity, stepAuth, stepPeerBind, stepPeerRouter, stepPeerBound, stepDial}
)

// Steps lists the names of the steps in the order they run, for a single
// service (pair false) or a service and its peer (pair true).
func Steps(pair bool) []string {
	chain := serviceChain
	if pair {
		chain = pairChain
	}
	names := make([]string, len(chain))
	for i, s := range chain {
		names[i] = s.name
	}
	return names
}
