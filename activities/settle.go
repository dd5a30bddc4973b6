package activities

// A pending secret version that a closed run left behind (a rotation whose store write failed
// after the env file was written, then resolved by hand) blocks every later rotation. This file
// tells such a version from one whose run still works on it, supersedes it for an emergency,
// settles it on an approver's signed request, and shows the store's versions, never a value.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/secretstore"
)

// RunDescriber tells the state of a workflow run; a Temporal client is one.
type RunDescriber interface {
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// ownerRun reads the run out of an idempotency key "<workflow id>/<run id>/<operation>".
func ownerRun(key string) (workflowID, runID string, ok bool) {
	i := strings.LastIndex(key, "/")
	if i <= 0 {
		return "", "", false
	}
	rest := key[:i]
	j := strings.LastIndex(rest, "/")
	if j <= 0 || j == len(rest)-1 {
		return "", "", false
	}
	return rest[:j], rest[j+1:], true
}

// cannotTell is why the state of a version's run cannot be known; asking again changes nothing.
type cannotTell string

func (e cannotTell) Error() string { return string(e) }

// runState says whether the run named in key has closed. run is "<workflow id>/<run id>";
// state is "running" or "closed (<status>)". The error is a cannotTell when the key names no
// run or the worker has no Temporal client, and anything else when Temporal did not answer.
// A run Temporal no longer knows (its retention passed) is closed.
func (a *Secrets) runState(ctx context.Context, key string) (run string, closed bool, state string, err error) {
	wf, id, ok := ownerRun(key)
	if !ok {
		return "", false, "", cannotTell(fmt.Sprintf("its idempotency key %q names no run", key))
	}
	run = wf + "/" + id
	if a.Runs == nil {
		return run, false, "", cannotTell(fmt.Sprintf("this worker has no Temporal client to ask whether run %s is closed", run))
	}
	desc, err := a.Runs.DescribeWorkflow(ctx, wf, id)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return run, true, "closed (no longer kept by Temporal)", nil
	case err != nil:
		return run, false, "", fmt.Errorf("ask Temporal whether run %s is closed: %w", run, err)
	}
	st := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus()
	if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || st == enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
		return run, false, "running", nil
	}
	return run, true, "closed (" + strings.ToLower(st.String()) + ")", nil
}

// emergencyPreCheck is PreCheck's read of the store and env sink for an emergency rotation. It
// writes nothing, and it fails only where the emergency cannot go on: a pending version of a
// run that still runs (or whose state cannot be told), or an env sink without a secret.
//
//   - A pending version of a closed run is reported as Stale: the workflow supersedes it.
//   - An env sink that does not hold the store's current version is reported as Drift with
//     NeedsAdoption: the workflow adopts the live value as the current version, so that the
//     rotation's rollback restores what was live, and rotates from there.
//
// It adds the "env sink matches secret store" check. Only an error Temporal or the disk may not
// repeat is returned, for the activity to be retried.
func (a *Secrets) emergencyPreCheck(ctx context.Context, t *config.Target, store secretStore, key string, res *contract.PreCheckResult) error {
	const name = "env sink matches secret store"
	fail := func(err error) error {
		res.Checks = append(res.Checks, contract.Check{Name: name, Detail: err.Error()})
		return nil
	}
	live, ok, err := a.sink(t).Get(t.EnvSink.Key)
	if err != nil {
		return fail(fmt.Errorf("read env sink: %w", err))
	}
	if !ok || live == "" {
		return fail(driftError(fmt.Sprintf("env sink %s has no %s", t.EnvSink.Path, t.EnvSink.Key)))
	}
	liveFP := store.Fingerprint(live)
	res.LiveFingerprint = liveFP
	var notes []string
	p, found, err := store.ByStage(ctx, secretstore.StagePending)
	if err != nil {
		return err
	}
	if found && p.IdempotencyKey != key+"/create" {
		run, closed, state, err := a.runState(ctx, p.IdempotencyKey)
		var unknown cannotTell
		switch {
		case errors.As(err, &unknown):
			return fail(driftError(fmt.Sprintf("version %s is pending from another run, and it cannot be told whether that run has closed: %v", p.ID, err)))
		case err != nil:
			return err
		case !closed:
			return fail(driftError(fmt.Sprintf("version %s is pending from run %s, which is still running; it must close (or be canceled) before its version can be superseded", p.ID, run)))
		}
		res.Stale = &contract.VersionRef{ID: p.ID, Fingerprint: p.Fingerprint}
		res.StaleRun = run
		note := fmt.Sprintf("version %s is pending from run %s, which is %s: it will be superseded", p.ID, run, state)
		if p.Fingerprint == liveFP {
			note += " (the env sink holds it: it is adopted as the live secret, then rotated away)"
		}
		notes = append(notes, note)
	}
	ownLive := ownPendingIsLive(p, found, key, liveFP)
	if ownLive {
		notes = append(notes, fmt.Sprintf("the env sink already holds version %s, which this run created and wrote before its answer was lost", p.ID))
	}
	cur, found, err := store.ByStage(ctx, secretstore.StageCurrent)
	if err != nil {
		return err
	}
	switch {
	case !found:
		res.NeedsAdoption = true
		notes = append(notes, "store has no current version; the live secret will be adopted")
	case cur.Fingerprint != liveFP && !ownLive:
		res.NeedsAdoption = true
		res.Drift = fmt.Sprintf("env sink holds fingerprint %s but the store's current version %s is %s", liveFP, cur.ID, cur.Fingerprint)
		notes = append(notes, "drift: "+res.Drift+"; emergency: the live secret will be adopted as the current version and rotated from there")
	default:
		res.Current = contract.VersionRef{ID: cur.ID, Fingerprint: cur.Fingerprint}
	}
	res.Checks = append(res.Checks, contract.Check{Name: name, OK: true, Detail: strings.Join(notes, "; ")})
	return nil
}

// adoptOver imports the env sink's value as the current version over a different current one
// (AdoptLiveSecret with ReplaceCurrent): an emergency's answer to drift.
func (a *Secrets) adoptOver(ctx context.Context, t *config.Target, store secretStore, key string) (contract.VersionRef, error) {
	live, ok, err := a.sink(t).Get(t.EnvSink.Key)
	if err != nil {
		return contract.VersionRef{}, fmt.Errorf("adopt live secret of %s: read env sink: %w", t.Name, err)
	}
	if !ok || live == "" {
		return contract.VersionRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("adopt live secret of %s: env sink %s has no %s", t.Name, t.EnvSink.Path, t.EnvSink.Key), contract.ErrTypeConflict, nil)
	}
	v, err := store.ImportOver(ctx, key+"/adopt-live", live)
	if err != nil {
		if errors.Is(err, secretstore.ErrPendingExists) || errors.Is(err, secretstore.ErrIdempotencyConflict) {
			return contract.VersionRef{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("adopt live secret of %s: %v", t.Name, err), contract.ErrTypeConflict, nil)
		}
		return contract.VersionRef{}, fmt.Errorf("adopt live secret of %s: %w", t.Name, err)
	}
	return contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}, nil
}

// SupersedePending marks failed the pending version that a closed run left behind, the step an
// emergency rotation takes when its PreCheck reported it Stale. The run's state is asked again
// right before the write; a version whose run still runs is refused. Idempotent.
func (a *Secrets) SupersedePending(ctx context.Context, in contract.SupersedeInput) (contract.SettleOutcome, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.SettleOutcome{}, err
	}
	if in.VersionID == "" {
		return contract.SettleOutcome{}, temporal.NewNonRetryableApplicationError("supersede pending version: no version named", contract.ErrTypeConfig, nil)
	}
	return a.settle(ctx, t, store, in.VersionID, in.IdempotencyKey, false)
}

// SettleSecret marks failed a pending version that a closed run left behind, for an approver's
// signed request (the SecretSettle workflow checks who asks). It refuses a version that is live
// in the env sink (compared by fingerprint), one whose run still runs or cannot be asked about,
// and one that is not pending. Idempotent.
func (a *Secrets) SettleSecret(ctx context.Context, in contract.SettleSecretInput) (contract.SettleOutcome, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.SettleOutcome{}, err
	}
	return a.settle(ctx, t, store, in.VersionID, "", true)
}

// settle marks versionID (or, when empty, the pending version) failed, once its run is known to
// be closed. self is the calling run's key, whose own version is never settled; refuseLive
// refuses a version the env sink holds.
func (a *Secrets) settle(ctx context.Context, t *config.Target, store secretStore, versionID, self string, refuseLive bool) (contract.SettleOutcome, error) {
	refuse := func(format string, args ...any) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), contract.ErrTypeConflict, nil)
	}
	var v secretstore.Version
	if versionID == "" {
		p, found, err := store.ByStage(ctx, secretstore.StagePending)
		if err != nil {
			return contract.SettleOutcome{}, err
		}
		if !found {
			return contract.SettleOutcome{NothingPending: true}, nil
		}
		v = p
	} else {
		vs, err := store.List(ctx)
		if err != nil {
			return contract.SettleOutcome{}, err
		}
		found := false
		for _, x := range vs {
			if x.ID == versionID {
				v, found = x, true
			}
		}
		if !found {
			return refuse("version %s is not in the secret store of %s", versionID, t.Name)
		}
	}
	out := contract.SettleOutcome{Version: contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}}
	if wf, id, ok := ownerRun(v.IdempotencyKey); ok {
		out.Run = wf + "/" + id
	}
	switch v.Stage {
	case secretstore.StageFailed:
		out.Already = true
		return out, nil
	case secretstore.StagePending:
	default:
		return refuse("version %s of %s is %s; only a pending version is settled", v.ID, t.Name, v.Stage)
	}
	if self != "" && v.IdempotencyKey == self+"/create" {
		return refuse("version %s is this run's own pending version", v.ID)
	}
	run, closed, state, err := a.runState(ctx, v.IdempotencyKey)
	var unknown cannotTell
	switch {
	case errors.As(err, &unknown):
		return refuse("version %s of %s is pending, and it cannot be told whether the run that created it has closed: %v", v.ID, t.Name, err)
	case err != nil:
		return contract.SettleOutcome{}, err
	case !closed:
		return refuse("version %s of %s is pending from run %s, which is still running: that run settles its own version (resolve or cancel it first)", v.ID, t.Name, run)
	}
	out.Run, out.RunState = run, state
	if refuseLive {
		live, ok, err := a.sink(t).Get(t.EnvSink.Key)
		if err != nil {
			return contract.SettleOutcome{}, fmt.Errorf("read env sink of %s: %w", t.Name, err)
		}
		if ok && live != "" && store.Fingerprint(live) == v.Fingerprint {
			return refuse("version %s of %s is live: the env sink %s holds it (fingerprint %s). Bring the target back to the store's current version first, or start an emergency invalidation, which supersedes it and rotates it away",
				v.ID, t.Name, t.EnvSink.Path, v.Fingerprint)
		}
	}
	if err := store.MarkFailed(ctx, v.ID); err != nil {
		if errors.Is(err, secretstore.ErrInvalidTransition) || errors.Is(err, secretstore.ErrNotFound) {
			return refuse("mark version %s of %s failed: %v", v.ID, t.Name, err)
		}
		return contract.SettleOutcome{}, fmt.Errorf("mark version %s of %s failed: %w", v.ID, t.Name, err)
	}
	return out, nil
}

// StoreStatus lists the versions of a target's secret with their stages, creation times,
// idempotency keys and fingerprints, which of them the env sink holds, and, for a pending
// version, whether the run that created it still runs. Never a value.
func (a *Secrets) StoreStatus(ctx context.Context, in contract.SecretStatusInput) (contract.SecretStatus, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.SecretStatus{}, err
	}
	vs, err := store.List(ctx)
	if err != nil {
		return contract.SecretStatus{}, fmt.Errorf("list versions of %s: %w", t.Name, err)
	}
	live, ok, err := a.sink(t).Get(t.EnvSink.Key)
	if err != nil {
		return contract.SecretStatus{}, fmt.Errorf("read env sink of %s: %w", t.Name, err)
	}
	st := contract.SecretStatus{Target: t.Name, Versions: []contract.SecretVersion{}}
	if ok && live != "" {
		st.LiveFingerprint = store.Fingerprint(live)
	}
	for _, v := range vs {
		sv := contract.SecretVersion{ID: v.ID, Stage: string(v.Stage), Fingerprint: v.Fingerprint,
			CreatedAt: v.CreatedAt, IdempotencyKey: v.IdempotencyKey}
		if wf, id, ok := ownerRun(v.IdempotencyKey); ok {
			sv.Run = wf + "/" + id
		}
		if v.Stage == secretstore.StagePending {
			_, _, state, err := a.runState(ctx, v.IdempotencyKey)
			if err != nil {
				state = "unknown: " + err.Error()
			}
			sv.RunState = state
		}
		if st.LiveFingerprint != "" && v.Fingerprint == st.LiveFingerprint {
			sv.Live = true
			// The current version wins when several hold the same value (an adopted copy).
			if st.LiveVersion == "" || v.Stage == secretstore.StageCurrent {
				st.LiveVersion = v.ID
			}
		}
		st.Versions = append(st.Versions, sv)
	}
	return st, nil
}

// ownPendingIsLive says the env sink (fingerprint liveFP) holds the pending version p that the
// run with key created. That is where the run is, not drift: an earlier attempt created and
// wrote it and its answer was lost, as when a local activity runs again after a crash.
func ownPendingIsLive(p secretstore.Version, found bool, key, liveFP string) bool {
	return found && p.IdempotencyKey == key+"/create" && p.Fingerprint == liveFP
}
