package zerotrust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
)

// Runtime holds what a running service needs from this package: its
// validated configuration, its JWT source and, when the service or any of
// its clients is in zerotrust mode, the process's one [Overlay]. Create it
// with [Start] and close it when the service stops.
type Runtime struct {
	// Config is the service's validated configuration.
	Config *Config
	// Tokens supplies the service's own JWT; nil when no Vault credentials
	// are configured.
	Tokens *VaultTokenSource
	// Overlay is the shared Ziti context; nil when nothing uses zerotrust mode.
	Overlay *Overlay
	// Logger is the logger the runtime was started with.
	Logger *slog.Logger
}

// Start validates cfg and, if the service or a client uses zerotrust mode,
// logs in to Vault and authenticates to the controller. A zerotrust
// configuration that is incomplete, or credentials that do not work, make
// Start fail: it never falls back to plain mode.
func Start(ctx context.Context, cfg *Config, logger *slog.Logger) (*Runtime, error) {
	if cfg == nil {
		return nil, errors.New("zerotrust: no configuration")
	}
	if logger == nil {
		logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt := &Runtime{Config: cfg, Logger: logger}
	opts, field, ok := cfg.overlayOptions()
	if credFile := opts.Get(KeyCredentials); credFile != "" {
		src, err := NewVaultTokenSource(credFile, VaultTokenSourceOptions{
			Address: opts.Get(KeyVaultAddress), CAFile: opts.Get(KeyVaultCA), Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", field, KeyCredentials, err)
		}
		if cfg.Service.Name != "" && src.Service() != cfg.Service.Name {
			return nil, fmt.Errorf("%s.%s: the credentials are for %q, not for this service %q", field, KeyCredentials, src.Service(), cfg.Service.Name)
		}
		rt.Tokens = src
	}
	if !ok {
		return rt, nil
	}
	ov, err := Connect(ctx, OverlayOptions{
		Controller: opts.Get(KeyController),
		CAFile:     opts.Get(KeyControllerCA),
		Tokens:     rt.Tokens,
		Logger:     logger,
	})
	if err != nil {
		return nil, err
	}
	rt.Overlay = ov
	return rt, nil
}

// overlayOptions picks the security options the overlay is built from: the
// service's when it is in zerotrust mode, else the first zerotrust client's.
// ok is false when nothing uses zerotrust mode.
func (c *Config) overlayOptions() (opts SecurityOptions, field string, ok bool) {
	if c.Service.Mode() == ModeZeroTrust {
		return c.Service.SecurityOptions, "Service.SecurityOptions", true
	}
	names := make([]string, 0, len(c.Clients))
	for n := range c.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if c.Clients[n].Mode() == ModeZeroTrust {
			return c.Clients[n].SecurityOptions, "Clients." + n + ".SecurityOptions", true
		}
	}
	return c.Service.SecurityOptions, "Service.SecurityOptions", false
}

// Close closes the overlay, if any.
func (r *Runtime) Close() error {
	if r.Overlay != nil {
		return r.Overlay.Close()
	}
	return nil
}
