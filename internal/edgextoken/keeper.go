package edgextoken

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"time"

	"github.com/ztedge/ztedge/internal/credentials"
	"github.com/ztedge/ztedge/internal/vault"
)

// Keeper keeps one service's token file valid: it renews the token in the
// file before it expires, whether or not the EdgeX service that uses it is
// running, and logs in anew and rewrites the file when the token is gone
// (expired while nothing renewed it, revoked, or Vault lost it). An EdgeX
// service that starts, or whose own renewal fails, then reads a valid
// token from the file instead of asking security-secretstore-setup for one.
type Keeper struct {
	// Credentials is the service's credentials file (AppRole login), read
	// again before each login so a re-provisioned secret_id is picked up.
	Credentials string
	// Path is the token file.
	Path string
	// VaultCA is a PEM file with the CA of Vault's TLS certificate.
	VaultCA string
	// Interval is how often Run checks the token. Default: a quarter of the
	// token's period, at most a minute.
	Interval time.Duration
	// Logger receives one line per change (never a token). Default slog.Default().
	Logger *slog.Logger
}

// Action says what [Keeper.Ensure] did.
type Action string

// The actions of [Keeper.Ensure].
const (
	// Kept: the token in the file is valid with more than half its period left.
	Kept Action = "kept"
	// Renewed: the token in the file was renewed.
	Renewed Action = "renewed"
	// Written: a new token was issued and the file written.
	Written Action = "written"
)

// Result is the outcome of one [Keeper.Ensure].
type Result struct {
	// Action is what was done.
	Action Action
	// Reason says why a new token was written.
	Reason string
	// TTL is the time the token in the file has left.
	TTL time.Duration
	// Period is the token's period (its TTL at issue when not periodic).
	Period time.Duration
}

// Ensure makes the file hold a valid token of the service: it keeps a
// valid one, renews it when half its period or less is left, and logs in
// anew when the file is missing or unusable or Vault refuses its token.
// Errors reaching Vault are returned and the file is left as it is.
func (k *Keeper) Ensure(ctx context.Context) (Result, error) {
	creds, err := credentials.Read(k.Credentials)
	if err != nil {
		return Result{}, err
	}
	if creds.Service == "" {
		return Result{}, fmt.Errorf("credentials file %s names no service", k.Credentials)
	}
	c, err := vault.NewClient(vault.Config{Address: creds.VaultAddress, CAFile: k.VaultCA})
	if err != nil {
		return Result{}, err
	}
	f, err := Read(k.Path)
	var why string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		why = "no token file yet"
	case err != nil:
		why = "the file was unusable: " + err.Error()
	default:
		st, err := Lookup(ctx, c, f.Auth.ClientToken)
		switch {
		case errors.Is(err, ErrTokenInvalid):
			why = "vault no longer accepts its token"
		case err != nil:
			return Result{}, err
		case st.EntityID != f.Auth.EntityID:
			why = "its token belongs to another entity"
		case st.RoleName != "" && st.RoleName != creds.Service:
			why = fmt.Sprintf("its token is of AppRole role %q, not %q", st.RoleName, creds.Service)
		case !st.Renewable || !slices.Contains(st.Policies, "default"):
			why = "its token is not renewable or lacks the default policy"
		default:
			period := st.Period
			if period <= 0 {
				period = time.Duration(f.Auth.LeaseDuration) * time.Second
			}
			if st.TTL > period/2 {
				return Result{Action: Kept, TTL: st.TTL, Period: period}, nil
			}
			ttl, err := Renew(ctx, c, f.Auth.ClientToken)
			switch {
			case errors.Is(err, ErrTokenInvalid):
				why = "vault refused to renew its token"
			case err != nil:
				return Result{}, err
			default:
				return Result{Action: Renewed, TTL: ttl, Period: period}, nil
			}
		}
	}
	nf, err := Issue(ctx, c, creds)
	if err != nil {
		return Result{}, err
	}
	if err := Write(k.Path, nf); err != nil {
		// Nothing will use the new token: do not leave it alive.
		_ = Revoke(context.WithoutCancel(ctx), c, nf.Auth.ClientToken)
		return Result{}, err
	}
	ttl := time.Duration(nf.Auth.LeaseDuration) * time.Second
	return Result{Action: Written, Reason: why, TTL: ttl, Period: ttl}, nil
}

// Run calls Ensure now and then every Interval until ctx ends. A failure
// of the first call is returned (a wrong credentials file or an unreachable
// Vault should stop a fresh start); later failures are logged and retried
// at the next interval, while the token in the file still has time left.
func (k *Keeper) Run(ctx context.Context) error {
	log := k.Logger
	if log == nil {
		log = slog.Default()
	}
	res, err := k.Ensure(ctx)
	if err != nil {
		return err
	}
	if res.Action == Kept {
		log.Info("edgex token file: holds a valid token", "file", k.Path, "ttl", res.TTL)
	}
	k.report(log, res)
	next := k.interval(res.Period)
	for {
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		res, err := k.Ensure(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("edgex token file: could not check or renew the token; trying again", "file", k.Path, "err", err, "retry_in", next)
			continue
		}
		k.report(log, res)
		next = k.interval(res.Period)
	}
}

// report logs what Ensure did, without the token.
func (k *Keeper) report(log *slog.Logger, res Result) {
	switch res.Action {
	case Written:
		log.Info("edgex token file: new Vault token written", "file", k.Path, "reason", res.Reason, "ttl", res.TTL)
	case Renewed:
		log.Info("edgex token file: token renewed", "file", k.Path, "ttl", res.TTL)
	}
}

// interval is how long Run waits between checks: Interval, or a quarter of
// the period, between one second and one minute.
func (k *Keeper) interval(period time.Duration) time.Duration {
	if k.Interval > 0 {
		return k.Interval
	}
	return min(max(period/4, time.Second), time.Minute)
}
