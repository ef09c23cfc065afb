// Package metrics holds a service's Prometheus metrics: overlay
// authentications, JWT fetches and Vault logins, time to JWT expiry, bind
// state, dials and requests per peer, and verifications of inbound JWTs.
// Each service has a registry of its own; the service exposes it only
// where it is configured to.
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one service's metrics. The zero value is not usable; make
// it with [New]. Its methods are safe for concurrent use.
type Metrics struct {
	reg           *prometheus.Registry
	auth          *prometheus.CounterVec
	vault         *prometheus.CounterVec
	bound         prometheus.Gauge
	dials         *prometheus.CounterVec
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	verifications *prometheus.CounterVec
}

// New returns the metrics of service; jwtExpiry, if not nil, is asked for
// the current JWT's expiry at every scrape.
func New(service string, jwtExpiry func() time.Time) *Metrics {
	labels := prometheus.Labels{"service": service}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "ztedge", Name: name, Help: help, ConstLabels: labels}
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts(opts("overlay_authentications_total",
			"Authentications to the Ziti controller, by result (ok, error, lost).")), []string{"result"}),
		vault: prometheus.NewCounterVec(prometheus.CounterOpts(opts("vault_operations_total",
			"Vault logins, token renewals and JWT fetches, by operation and result.")), []string{"operation", "result"}),
		bound: prometheus.NewGauge(prometheus.GaugeOpts(opts("bind_established",
			"1 while the service's Ziti bind is established on an edge router, else 0."))),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts(opts("peer_dials_total",
			"Connections opened to peers, by peer and result.")), []string{"peer", "result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("peer_requests_total",
			"Requests to peers, by peer and status class (2xx, 4xx, error, ...).")), []string{"peer", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "ztedge", Name: "peer_request_seconds",
			Help: "Time to a peer's response head, by peer.", ConstLabels: labels,
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"peer"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts(opts("jwt_verifications_total",
			"Verifications of inbound JWTs, by result (ok or the refusal's reason).")), []string{"result"}),
	}
	m.reg.MustRegister(m.auth, m.vault, m.bound, m.dials, m.requests, m.latency, m.verifications)
	if jwtExpiry != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("jwt_expiry_seconds",
			"Seconds until the service's current JWT expires (negative: expired).")), func() float64 {
			exp := jwtExpiry()
			if exp.IsZero() {
				return 0
			}
			return time.Until(exp).Seconds()
		}))
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// Authenticated counts an authentication to the controller.
func (m *Metrics) Authenticated(err error) { m.auth.WithLabelValues(result(err)).Inc() }

// SessionLost counts a lost controller session.
func (m *Metrics) SessionLost() { m.auth.WithLabelValues("lost").Inc() }

// Vault counts a Vault operation ("login", "renew", "jwt").
func (m *Metrics) Vault(operation string, err error) {
	m.vault.WithLabelValues(operation, result(err)).Inc()
}

// Bound records the bind state.
func (m *Metrics) Bound(up bool) {
	if up {
		m.bound.Set(1)
	} else {
		m.bound.Set(0)
	}
}

// Dialed counts a dial to peer.
func (m *Metrics) Dialed(peer string, err error) { m.dials.WithLabelValues(peer, result(err)).Inc() }

// Requested counts a request to peer that got status code (0 and err for
// none) after took. A client that sends many requests to the same peers
// binds each once with [Metrics.Peer] instead.
func (m *Metrics) Requested(peer string, code int, err error, took time.Duration) {
	m.requests.WithLabelValues(peer, classLabels[class(code, err)]).Inc()
	if err == nil {
		m.latency.WithLabelValues(peer).Observe(took.Seconds())
	}
}

// Status classes of peer requests, as indexes of classLabels.
const (
	classError = iota
	classOther = 6 // a code outside 100-599
)

var classLabels = [...]string{classError: "error", 1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx", classOther: "other"}

// class is the index in classLabels of a request's outcome.
func class(code int, err error) int {
	switch {
	case err != nil:
		return classError
	case code >= 100 && code < 600:
		return code / 100
	}
	return classOther
}

// Peer returns the request metrics of one peer, bound to its name: a
// request recorded through it costs no label lookup once each of its
// series exists. Series are still created at their first request, as with
// [Metrics.Requested].
func (m *Metrics) Peer(name string) *PeerMetrics {
	return &PeerMetrics{m: m, name: name}
}

// PeerMetrics are the request metrics of one peer; see [Metrics.Peer].
// Its methods are safe for concurrent use.
type PeerMetrics struct {
	m       *Metrics
	name    string
	classes [len(classLabels)]atomic.Pointer[prometheus.Counter]
	latency atomic.Pointer[prometheus.Observer]
}

// Requested counts a request that got status code (0 and err for none)
// after took.
func (p *PeerMetrics) Requested(code int, err error, took time.Duration) {
	c := class(code, err)
	counter := p.classes[c].Load()
	if counter == nil {
		bound := p.m.requests.WithLabelValues(p.name, classLabels[c])
		counter = &bound
		p.classes[c].Store(counter)
	}
	(*counter).Inc()
	if err != nil {
		return
	}
	obs := p.latency.Load()
	if obs == nil {
		bound := p.m.latency.WithLabelValues(p.name)
		obs = &bound
		p.latency.Store(obs)
	}
	(*obs).Observe(took.Seconds())
}

// Verified counts an inbound JWT verification with its result: "ok" or
// the refusal's reason.
func (m *Metrics) Verified(result string) { m.verifications.WithLabelValues(result).Inc() }
