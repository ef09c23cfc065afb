package zerotrust

import (
	"context"
	"time"
)

// Bounds of the wait between two looks at the JWT's renewal time.
const (
	keepMinWait   = time.Second
	keepMaxWait   = time.Minute
	keepRetryWait = 5 * time.Second
	keepTimeout   = 30 * time.Second
)

// keepFresh renews the service's JWT (and with it its Vault login) when
// it is due, until ctx ends, so that the JWT stays valid (readiness
// depends on it) even when nothing asks for it: in zerotrust mode without
// RequireJWT only a controller re-authentication does. A failed renewal
// is retried after keepRetryWait; the token source logs it.
func (s *Service) keepFresh(ctx context.Context) {
	for {
		wait := time.Until(s.tokens.RenewAt())
		if s.tokens.State().LastError != nil {
			wait = min(wait, keepRetryWait)
		}
		wait = min(max(wait, keepMinWait), keepMaxWait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if time.Now().Before(s.tokens.RenewAt()) && s.tokens.State().LastError == nil {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, keepTimeout)
		_, _ = s.tokens.Token(tctx)
		cancel()
	}
}
