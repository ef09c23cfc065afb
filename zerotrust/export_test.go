package zerotrust

import (
	"context"
	"io"
	"net/http/httptest"

	"github.com/openziti/sdk-golang/ziti"
)

// Hooks for the external tests of this package.

// Reauthenticate forces a full re-authentication of s's overlay.
func Reauthenticate(ctx context.Context, s *Service) error { return s.overlay.reauthenticate(ctx) }

// Fetches is how many JWTs s has fetched from Vault.
func Fetches(s *Service) int { return s.tokens.Fetches() }

// Identity is the Ziti identity s's overlay authenticated as.
func Identity(s *Service) (string, error) { return s.overlay.identity() }

// ZitiContext is s's SDK context, for benchmarks against the raw SDK.
func ZitiContext(s *Service) ziti.Context { return s.overlay.zctx }

// WriteMetrics writes s's metrics in Prometheus's text format.
func WriteMetrics(s *Service, w io.Writer) error {
	rec := httptest.NewRecorder()
	s.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	_, err := io.Copy(w, rec.Body)
	return err
}
