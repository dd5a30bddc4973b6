package activities

import (
	"github.com/authops/authops/contract"

	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/deploy"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/secretstore"
)

// PreCheckInput names the target; IdempotencyKey identifies the run.
type PreCheckInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
	// NoAdopt makes PreCheck read-only: a store with no current version is reported as
	// NeedsAdoption, and the workflow adopts the live secret in its own step (AdoptLiveSecret).
	// Runs of older workflow code leave it false and PreCheck adopts, as it always did.
	NoAdopt bool `json:"no_adopt,omitempty"`
	// Mode is the rotation's mode. With ModeEmergency (and NoAdopt) a pending version that a
	// closed run left behind is reported as Stale, and an env sink that drifted from the store's
	// current version as Drift, instead of failing the check: the emergency must always rotate.
	// Other modes, and older workflow code that leaves it empty, keep both as failed checks.
	Mode string `json:"mode,omitempty"`
	// LoginProbedAt (emergency mode) is when the emergency run's canary session logged in, and
	// DeployCheckedAt when its dry run of the deploy path passed, both while it waited for its
	// go-ahead. Within checkedFresh of them the pre-check does not repeat them: a login costs the
	// backend a bcrypt hash, a dry run starts a process, and the cutover waits for both.
	LoginProbedAt   time.Time `json:"login_probed_at,omitzero"`
	DeployCheckedAt time.Time `json:"deploy_checked_at,omitzero"`
}

// checkedFresh is how long an emergency run's own login and dry run stand for the pre-check's.
// A backend or deploy path that broke since then fails the redeploy or the validation after it
// instead, and the rotation rolls back.
const checkedFresh = 2 * time.Minute

// checkedBefore says how long ago the emergency run made a check the pre-check would repeat
// (at), and whether that is recent enough to stand for it. The worker's clock and the server's,
// which stamped at, may differ a little.
func (in PreCheckInput) checkedBefore(at time.Time) (time.Duration, bool) {
	ago := time.Since(at)
	return ago, in.Mode == contract.ModeEmergency && !at.IsZero() && ago.Abs() < checkedFresh
}

// PreCheckResult lists the checks and the version the target runs on now.
type PreCheckResult struct {
	OK      bool                `json:"ok"`
	Checks  []contract.Check    `json:"checks"`
	Current contract.VersionRef `json:"current"`
	// NeedsAdoption (NoAdopt only) says the store has no current version: Current is empty, and
	// the live secret, of fingerprint LiveFingerprint, must be adopted before anything changes.
	NeedsAdoption   bool   `json:"needs_adoption,omitempty"`
	LiveFingerprint string `json:"live_fingerprint,omitempty"`
	// Stale (emergency mode) is a pending version that the closed run StaleRun
	// (<workflow id>/<run id>) left behind: the workflow supersedes it (SupersedePending) before
	// anything else changes.
	Stale    *contract.VersionRef `json:"stale,omitempty"`
	StaleRun string               `json:"stale_run,omitempty"`
	// Drift (emergency mode) says the env sink holds a value that is not the store's current
	// version; NeedsAdoption is set with it and Current is empty: the live value is adopted as
	// the current version (AdoptLiveSecret with ReplaceCurrent) so that a rollback restores it.
	Drift string `json:"drift,omitempty"`
	// Validation holds the baseline probe results.
	Validation probe.Results `json:"validation"`
}

// PreCheck runs the pre-rotation checks. Failed checks are a result, not an error: the workflow
// stops before anything changes and shows which check failed.
//
// It also makes sure the store knows the secret the backend runs on, so that rollback always has
// a previous version to go to. With NoAdopt it only reports a store with no current version
// (NeedsAdoption) and writes nothing; without it (older workflow code) it adopts the env sink's
// value itself.
func (a *Activities) PreCheck(ctx context.Context, in PreCheckInput) (PreCheckResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return PreCheckResult{}, err
	}
	var res PreCheckResult
	add := func(name string, err error) bool {
		c := contract.Check{Name: name, OK: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		res.Checks = append(res.Checks, c)
		return err == nil
	}

	add("target config valid", a.Config.CheckRefs(t))
	store, err := a.store(t)
	if err == nil {
		err = store.CheckWritable(ctx)
	}
	// Checked before any version exists: a sink that cannot be written must not leave a pending
	// version and five retries behind.
	add("env sink writable", a.sink(t).CheckWritable())
	if add("secret store writable", err) {
		if in.NoAdopt && in.Mode == contract.ModeEmergency {
			if err := a.emergencyPreCheck(ctx, t, store, in.IdempotencyKey, &res); err != nil {
				return PreCheckResult{}, err
			}
		} else if in.NoAdopt {
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
		} else {
			current, err := a.adoptCurrent(ctx, t, store, in.IdempotencyKey)
			res.Current = current
			add("env sink matches secret store", err)
		}
	}
	if ago, ok := in.checkedBefore(in.DeployCheckedAt); ok {
		res.Checks = append(res.Checks, contract.Check{Name: "deploy path configured (dry run)", OK: true,
			Detail: fmt.Sprintf("the emergency run's dry run passed %s ago (%s); not run again",
				ago.Round(time.Millisecond), in.DeployCheckedAt.UTC().Format(time.RFC3339Nano))})
	} else {
		add("deploy path configured (dry run)", a.deployer(t, a.knownSecrets(ctx)...).DryRun(ctx))
	}
	pt := a.probe(t)
	creds, err := a.credentials(t)
	ago, recent := in.checkedBefore(in.LoginProbedAt)
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
func (a *Activities) liveVersion(ctx context.Context, t *config.Target, store *secretstore.File, key string) (cur contract.VersionRef, found bool, live string, err error) {
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
func (a *Activities) adoptCurrent(ctx context.Context, t *config.Target, store *secretstore.File, key string) (contract.VersionRef, error) {
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

// AdoptInput asks to adopt the live secret; IdempotencyKey identifies the run.
type AdoptInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
	// ReplaceCurrent adopts the live secret even over a different current version, which
	// becomes previous: an emergency rotation's answer to drift (PreCheckResult.Drift).
	ReplaceCurrent bool `json:"replace_current,omitempty"`
}

// AdoptLiveSecret imports the env sink's secret into the store as the current version, the step
// a run takes when PreCheck (NoAdopt) reported NeedsAdoption. Idempotent: a retry with the same
// key returns the same version, and a current version that matches the sink is returned as it
// is. A pending version of another run, or a current version that disagrees with the sink, is a
// conflict that is not retried.
func (a *Activities) AdoptLiveSecret(ctx context.Context, in AdoptInput) (contract.VersionRef, error) {
	t, store, err := a.targetStore(in.Target)
	if err != nil {
		return contract.VersionRef{}, err
	}
	if in.IdempotencyKey == "" {
		return contract.VersionRef{}, temporal.NewNonRetryableApplicationError("adopt live secret: idempotency key is empty", ErrTypeConfig, nil)
	}
	if in.ReplaceCurrent {
		return a.adoptOver(ctx, t, store, in.IdempotencyKey)
	}
	ref, err := a.adoptCurrent(ctx, t, store, in.IdempotencyKey)
	if err != nil {
		var drift driftError
		if errors.As(err, &drift) || errors.Is(err, secretstore.ErrCurrentExists) || errors.Is(err, secretstore.ErrIdempotencyConflict) {
			return contract.VersionRef{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("adopt live secret of %s: %v", t.Name, err), ErrTypeConflict, nil)
		}
		return contract.VersionRef{}, fmt.Errorf("adopt live secret of %s: %w", t.Name, err)
	}
	return ref, nil
}

// SecretInput asks for a new secret version.
type SecretInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
}

// CreatePendingSecret generates a new secret inside the store. A retry with the same key returns
// the same version.
func (a *Activities) CreatePendingSecret(ctx context.Context, in SecretInput) (contract.VersionRef, error) {
	t, store, err := a.targetStore(in.Target)
	if err != nil {
		return contract.VersionRef{}, err
	}
	v, err := store.CreatePending(ctx, in.IdempotencyKey+"/create")
	if err != nil {
		return contract.VersionRef{}, fmt.Errorf("create pending secret for %s: %w", t.Name, err)
	}
	return contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}, nil
}

// VersionInput names one version of a target's secret.
type VersionInput struct {
	Target    string `json:"target"`
	VersionID string `json:"version_id"`
	// IdempotencyKey finds the run's pending version when its id never reached the workflow
	// (MarkSecretFailed after a create that timed out).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ApplyResult says what the env sink now holds.
type ApplyResult struct {
	Key         string `json:"key"`
	Path        string `json:"path"`
	VersionID   string `json:"version_id"`
	Fingerprint string `json:"fingerprint"`
	Changed     bool   `json:"changed"`
}

// ApplySecret writes a version's value into the env sink. Writing the same value again changes
// nothing, so retries are safe.
func (a *Activities) ApplySecret(ctx context.Context, in VersionInput) (ApplyResult, error) {
	t, store, err := a.targetStore(in.Target)
	if err != nil {
		return ApplyResult{}, err
	}
	ref, value, err := versionRef(ctx, store, in.VersionID)
	if err != nil {
		return ApplyResult{}, err
	}
	changed, err := a.sink(t).Set(t.EnvSink.Key, value)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("write %s to %s: %w", t.EnvSink.Key, t.EnvSink.Path, err)
	}
	return ApplyResult{Key: t.EnvSink.Key, Path: t.EnvSink.Path, VersionID: ref.ID, Fingerprint: ref.Fingerprint, Changed: changed}, nil
}

// DeployInput names the target to redeploy.
type DeployInput struct {
	Target string `json:"target"`
}

// DeployResult reports a redeploy. The deploy's output reaches the run's history only as its
// last lines (Output) and a digest of all of it (OutputDigest, "sha256:<hex>"), both taken after
// every secret and credential the worker knows was replaced by [REDACTED]. Histories from before
// the digest hold a longer Output and no digest; they decode the same.
type DeployResult struct {
	Output       string `json:"output,omitempty"`
	OutputDigest string `json:"output_digest,omitempty"`
	OutputBytes  int64  `json:"output_bytes,omitempty"`
	ExitCode     int    `json:"exit_code"`
	DurationMS   int64  `json:"duration_ms"`
	ReadyMS      int64  `json:"ready_ms"`
}

// CheckDeployPath runs the deploy path's dry run. An emergency run runs it while it waits for
// its go-ahead: a broken path shows before anyone approves, and the rotation's pre-check need
// not run it again moments later.
func (a *Activities) CheckDeployPath(ctx context.Context, target string) error {
	t, err := a.target(target)
	if err != nil {
		return err
	}
	return a.deployer(t, a.knownSecrets(ctx)...).DryRun(ctx)
}

// Deploy restarts the backend and waits until it answers /healthz again.
func (a *Activities) Deploy(ctx context.Context, in DeployInput) (DeployResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return DeployResult{}, err
	}
	redact := a.knownSecrets(ctx)
	start := time.Now()
	var rep deploy.Report
	err = heartbeatWhile(ctx, "deploying", func() error {
		var err error
		rep, err = a.deployer(t, redact...).Deploy(ctx)
		if err != nil {
			return err
		}
		// Polls at most 20 ms apart: a backend that takes a few hundred milliseconds to come
		// back would otherwise wait up to a 100 ms poll more, and the cutover waits with it.
		return deploy.WaitReady(ctx, strings.TrimRight(t.BaseURL, "/")+"/healthz", t.Deployer.ReadinessTimeout.D(), 20*time.Millisecond)
	})
	res := DeployResult{Output: rep.Output, OutputDigest: rep.Digest, OutputBytes: rep.Bytes, ExitCode: rep.ExitCode,
		DurationMS: rep.Duration.Milliseconds(), ReadyMS: time.Since(start).Milliseconds()}
	if err != nil {
		return res, fmt.Errorf("redeploy %s: %w", t.Name, err)
	}
	return res, nil
}

// ValidateInput says which version should be live and which one retired.
type ValidateInput struct {
	Target           string `json:"target"`
	LiveVersionID    string `json:"live_version_id"`
	RetiredVersionID string `json:"retired_version_id,omitempty"`
	// Restricted lists the route restrictions the caller holds (an emergency run's child
	// rotation): each is checked for its status, and checks it answers first are deferred.
	Restricted []contract.RouteRestriction `json:"restricted,omitempty"`
	// CutoverOf is the emergency run whose cutover ValidateCutover checks as well.
	CutoverOf string `json:"cutover_of,omitempty"`
}

// secrets reads the values of the live and the retired version that a validation checks with.
func (in ValidateInput) secrets(ctx context.Context, store *secretstore.File) (live, retired string, err error) {
	if _, live, err = versionRef(ctx, store, in.LiveVersionID); err != nil {
		return "", "", err
	}
	if in.RetiredVersionID != "" {
		if _, retired, err = versionRef(ctx, store, in.RetiredVersionID); err != nil {
			return "", "", err
		}
	}
	return live, retired, nil
}

// Validate runs the rotation checklist against the live backend: health, login, token issued
// with the live secret, tokens of the retired secret rejected, tampered and alg=none rejected,
// privilege probe. Failed checks are returned, not raised, so they land in the run's artifacts.
//
// Restrictions are only those passed in: each restricted prefix must answer its status, and a
// check that the restriction answered first (the privilege probe under /admin) is deferred, not
// passed. The backend's live control state never changes what is checked: a restriction the run
// did not ask for fails the privilege probe instead of quietly replacing it.
func (a *Activities) Validate(ctx context.Context, in ValidateInput) (rs probe.Results, err error) {
	// Heartbeats, so that a worker that dies mid-validation is noticed in seconds, not at the
	// one-minute start-to-close timeout.
	err = heartbeatWhile(ctx, "validating "+in.Target, func() error {
		rs, err = a.validate(ctx, in)
		return err
	})
	return rs, err
}

func (a *Activities) validate(ctx context.Context, in ValidateInput) (probe.Results, error) {
	t, store, err := a.targetStore(in.Target)
	if err != nil {
		return nil, err
	}
	live, retired, err := in.secrets(ctx, store)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	pt := a.probe(t)
	rs := pt.VerifyRotation(ctx, creds, claims(t), live, retired)
	rs = append(rs, pt.CheckRestrictions(ctx, in.Restricted)...)
	return probe.DeferRestricted(rs, in.Restricted), nil
}

// PromoteSecret makes the pending version current; the old current becomes previous.
func (a *Activities) PromoteSecret(ctx context.Context, in VersionInput) error {
	return a.storeOp(ctx, in, "promote", (*secretstore.File).Promote)
}

// MarkSecretFailed labels a pending version failed after a rollback. Without a version id it
// looks for the pending version this run created, if any, so a create whose answer was lost
// does not leave a pending version behind to block the next rotation.
func (a *Activities) MarkSecretFailed(ctx context.Context, in VersionInput) error {
	if in.VersionID == "" {
		t, store, err := a.targetStore(in.Target)
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
	return a.storeOp(ctx, in, "mark failed", (*secretstore.File).MarkFailed)
}

// RollBackSecret undoes a promotion: the previous version is current again.
func (a *Activities) RollBackSecret(ctx context.Context, in VersionInput) error {
	return a.storeOp(ctx, in, "roll back", (*secretstore.File).RollBack)
}

func (a *Activities) storeOp(ctx context.Context, in VersionInput, what string, op func(*secretstore.File, context.Context, string) error) error {
	t, err := a.target(in.Target)
	if err != nil {
		return err
	}
	store, err := a.store(t)
	if err != nil {
		return err
	}
	if err := op(store, ctx, in.VersionID); err != nil {
		return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s version %s of %s", what, in.VersionID, t.Name), ErrTypeConflict, err)
	}
	return nil
}

// resultsErr summarises failed probe results as one error, or nil.
func resultsErr(rs probe.Results) error {
	failed := rs.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, 0, len(failed))
	for _, f := range failed {
		names = append(names, fmt.Sprintf("%s (want %d, got %d)", f.Name, f.Expected, f.Got))
	}
	return fmt.Errorf("failed: %s", strings.Join(names, "; "))
}
