package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/secretstore"
)

// Secrets holds the activities of a target's secret: pre-checks, the store's versions, the env
// sink, the deploy path, and the pending versions that closed runs left behind (settle.go).
type Secrets struct {
	Targets
	// Runs tells whether the run that left a pending secret version behind has closed (the
	// worker's Temporal client). nil means the worker cannot tell, and no pending version is
	// then treated as stale.
	Runs RunDescriber
	// PeerKey is the worker's key for messages between runs: a secret that deploy output must
	// never echo (redact.go).
	PeerKey []byte
}

// checkedFresh is how long an emergency run's own login and dry run stand for the pre-check's.
// A backend or deploy path that broke since then fails the redeploy or the validation after it
// instead, and the rotation rolls back.
const checkedFresh = 2 * time.Minute

// checkedBefore says how long ago the emergency run made a check the pre-check would repeat
// (at), and whether that is recent enough to stand for it. The worker's clock and the server's,
// which stamped at, may differ a little.
func checkedBefore(in contract.PreCheckInput, at time.Time) (time.Duration, bool) {
	ago := time.Since(at)
	return ago, in.Mode == contract.ModeEmergency && !at.IsZero() && ago.Abs() < checkedFresh
}

// PreCheck runs the pre-rotation checks. Failed checks are a result, not an error: the workflow
// stops before anything changes and shows which check failed.
//
// It also makes sure the store knows the secret the backend runs on, so that rollback always has
// a previous version to go to: it reports a store with no current version (NeedsAdoption) and
// writes nothing; the workflow adopts the live secret in its own step (AdoptLiveSecret).
func (a *Secrets) PreCheck(ctx context.Context, in contract.PreCheckInput) (contract.PreCheckResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return contract.PreCheckResult{}, err
	}
	var res contract.PreCheckResult
	add := func(name string, err error) bool {
		c := contract.Check{Name: name, OK: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		res.Checks = append(res.Checks, c)
		return err == nil
	}

	add("target config valid", a.Config.CheckRefs(t))
	store, err := a.store(ctx, t)
	if err == nil {
		err = store.CheckWritable(ctx)
	}
	// Checked before any version exists: a sink that cannot be written must not leave a pending
	// version and five retries behind.
	add("env sink writable", a.sink(t).CheckWritable())
	if add("secret store writable", err) {
		if in.Mode == contract.ModeEmergency {
			if err := a.emergencyPreCheck(ctx, t, store, in.IdempotencyKey, &res); err != nil {
				return contract.PreCheckResult{}, err
			}
		} else {
			cur, found, live, err := a.liveVersion(ctx, t, store, in.IdempotencyKey)
			switch {
			case err != nil:
				add("env sink matches secret store", err)
			case !found:
				res.NeedsAdoption, res.LiveFingerprint = true, store.Fingerprint(live)
				res.Checks = append(res.Checks, contract.Check{Name: "env sink matches secret store", OK: true,
					Detail: "store has no current version; the live secret will be adopted"})
			default:
				res.Current, res.LiveFingerprint = cur, cur.Fingerprint
				add("env sink matches secret store", nil)
			}
		}
	}
	if ago, ok := checkedBefore(in, in.DeployCheckedAt); ok {
		res.Checks = append(res.Checks, contract.Check{Name: "deploy path configured (dry run)", OK: true,
			Detail: fmt.Sprintf("the emergency run's dry run passed %s ago (%s); not run again",
				ago.Round(time.Millisecond), in.DeployCheckedAt.UTC().Format(time.RFC3339Nano))})
	} else {
		add("deploy path configured (dry run)", a.deployer(t, a.knownSecrets(ctx)...).DryRun(ctx))
	}
	pt := a.probe(t)
	creds, err := a.credentials(t)
	ago, recent := checkedBefore(in, in.LoginProbedAt)
	switch {
	case !add("probe credentials resolvable", err):
	case recent:
		res.Checks = append(res.Checks, contract.Check{Name: "backend healthy and probe login works", OK: true,
			Detail: fmt.Sprintf("the emergency run's canary session logged in %s ago (%s); not probed again",
				ago.Round(time.Millisecond), in.LoginProbedAt.UTC().Format(time.RFC3339Nano))})
	default:
		res.Validation = pt.Baseline(ctx, creds)
		// A busy backend may miss one probe: try once more before failing the run on it.
		if !res.Validation.OK() {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
				res.Validation = pt.Baseline(ctx, creds)
			}
		}
		add("backend healthy and probe login works", resultsErr(res.Validation))
	}
	res.OK = true
	for _, c := range res.Checks {
		res.OK = res.OK && c.OK
	}
	return res, nil
}

// liveVersion reads the env sink's secret and the store's current version without writing:
// found is false when the store has no current version yet. A version pending from another
// run, or a sink that disagrees with the store's current version, is drift, and rotation must
// not guess.
func (a *Secrets) liveVersion(ctx context.Context, t *config.Target, store secretStore, key string) (cur contract.VersionRef, found bool, live string, err error) {
	live, ok, err := a.sink(t).Get(t.EnvSink.Key)
	if err != nil {
		return cur, false, "", fmt.Errorf("read env sink: %w", err)
	}
	if !ok || live == "" {
		return cur, false, "", driftError(fmt.Sprintf("env sink %s has no %s", t.EnvSink.Path, t.EnvSink.Key))
	}
	p, found, err := store.ByStage(ctx, secretstore.StagePending)
	if err != nil {
		return cur, false, "", err
	} else if found && p.IdempotencyKey != key+"/create" {
		return cur, false, "", driftError(fmt.Sprintf("version %s is pending from another run (%s); resolve it first, and once that run has closed, settle the version: starter secret settle --target %s --as <approver>", p.ID, p.IdempotencyKey, t.Name))
	}
	ownLive := ownPendingIsLive(p, found, key, store.Fingerprint(live))
	v, found, err := store.ByStage(ctx, secretstore.StageCurrent)
	if err != nil {
		return cur, false, "", err
	}
	if !found {
		return cur, false, live, nil
	}
	if fp := store.Fingerprint(live); fp != v.Fingerprint && !ownLive {
		return cur, false, "", driftError(fmt.Sprintf("env sink holds fingerprint %s but the store's current version %s is %s", fp, v.ID, v.Fingerprint))
	}
	return contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}, true, live, nil
}

// driftError is a state the run must not resolve by itself; a retry changes nothing.
type driftError string

func (e driftError) Error() string { return string(e) }

// adoptCurrent returns the store's current version, importing the env sink's secret when the
// store has none yet.
func (a *Secrets) adoptCurrent(ctx context.Context, t *config.Target, store secretStore, key string) (contract.VersionRef, error) {
	cur, found, live, err := a.liveVersion(ctx, t, store, key)
	if err != nil || found {
		return cur, err
	}
	v, err := store.Import(ctx, key+"/adopt", live)
	if err != nil {
		return contract.VersionRef{}, fmt.Errorf("adopt running secret: %w", err)
	}
	return contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}, nil
}

// AdoptLiveSecret imports the env sink's secret into the store as the current version, the step
// a run takes when PreCheck reported NeedsAdoption. Idempotent: a retry with the same
// key returns the same version, and a current version that matches the sink is returned as it
// is. A pending version of another run, or a current version that disagrees with the sink, is a
// conflict that is not retried.
func (a *Secrets) AdoptLiveSecret(ctx context.Context, in contract.AdoptInput) (contract.VersionRef, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.VersionRef{}, err
	}
	if in.IdempotencyKey == "" {
		return contract.VersionRef{}, temporal.NewNonRetryableApplicationError("adopt live secret: idempotency key is empty", contract.ErrTypeConfig, nil)
	}
	if in.ReplaceCurrent {
		return a.adoptOver(ctx, t, store, in.IdempotencyKey)
	}
	ref, err := a.adoptCurrent(ctx, t, store, in.IdempotencyKey)
	if err != nil {
		var drift driftError
		if errors.As(err, &drift) || errors.Is(err, secretstore.ErrCurrentExists) || errors.Is(err, secretstore.ErrIdempotencyConflict) {
			return contract.VersionRef{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("adopt live secret of %s: %v", t.Name, err), contract.ErrTypeConflict, nil)
		}
		return contract.VersionRef{}, fmt.Errorf("adopt live secret of %s: %w", t.Name, err)
	}
	return ref, nil
}

// CreatePendingSecret generates a new secret inside the store. A retry with the same key returns
// the same version.
func (a *Secrets) CreatePendingSecret(ctx context.Context, in contract.SecretInput) (contract.VersionRef, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.VersionRef{}, err
	}
	v, err := store.CreatePending(ctx, in.IdempotencyKey+"/create")
	if err != nil {
		return contract.VersionRef{}, fmt.Errorf("create pending secret for %s: %w", t.Name, err)
	}
	return contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}, nil
}

// ApplySecret writes a version's value into the env sink. Writing the same value again changes
// nothing, so retries are safe.
func (a *Secrets) ApplySecret(ctx context.Context, in contract.VersionInput) (contract.ApplyResult, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.ApplyResult{}, err
	}
	ref, value, err := versionRef(ctx, store, in.VersionID)
	if err != nil {
		return contract.ApplyResult{}, err
	}
	changed, err := a.sink(t).Set(t.EnvSink.Key, value)
	if err != nil {
		return contract.ApplyResult{}, fmt.Errorf("write %s to %s: %w", t.EnvSink.Key, t.EnvSink.Path, err)
	}
	return contract.ApplyResult{Key: t.EnvSink.Key, Path: t.EnvSink.Path, VersionID: ref.ID, Fingerprint: ref.Fingerprint, Changed: changed}, nil
}

// PromoteSecret makes the pending version current; the old current becomes previous.
func (a *Secrets) PromoteSecret(ctx context.Context, in contract.VersionInput) error {
	return a.storeOp(ctx, in, "promote", secretStore.Promote)
}

// MarkSecretFailed labels a pending version failed after a rollback. Without a version id it
// looks for the pending version this run created, if any, so a create whose answer was lost
// does not leave a pending version behind to block the next rotation.
func (a *Secrets) MarkSecretFailed(ctx context.Context, in contract.VersionInput) error {
	if in.VersionID == "" {
		t, store, err := a.targetStore(ctx, in.Target)
		if err != nil {
			return err
		}
		p, found, err := store.ByStage(ctx, secretstore.StagePending)
		if err != nil {
			return fmt.Errorf("find pending version of %s: %w", t.Name, err)
		}
		if !found || p.IdempotencyKey != in.IdempotencyKey+"/create" {
			return nil
		}
		in.VersionID = p.ID
	}
	return a.storeOp(ctx, in, "mark failed", secretStore.MarkFailed)
}

// RollBackSecret undoes a promotion: the previous version is current again.
func (a *Secrets) RollBackSecret(ctx context.Context, in contract.VersionInput) error {
	return a.storeOp(ctx, in, "roll back", secretStore.RollBack)
}

func (a *Secrets) storeOp(ctx context.Context, in contract.VersionInput, what string, op func(secretStore, context.Context, string) error) error {
	t, err := a.target(in.Target)
	if err != nil {
		return err
	}
	store, err := a.store(ctx, t)
	if err != nil {
		return err
	}
	if err := op(store, ctx, in.VersionID); err != nil {
		return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s version %s of %s", what, in.VersionID, t.Name), contract.ErrTypeConflict, err)
	}
	return nil
}
