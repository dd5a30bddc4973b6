package workflows

// A rotation's checks of the target and the secret store: the pre-checks and the re-check before
// any change, and what it does about the store's state beyond its own version: an emergency
// supersedes a pending version that a closed run left behind and adopts a drifted live secret,
// an escalation says how to settle the version it may leave pending, and a resolve reads the
// store again and says what is left.

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// takeOver is the emergency rotation's answer to what its pre-checks reported: a stale pending
// version is marked failed (its run is asked again right before), and drift goes on the
// timeline before the live secret is adopted. It returns why the run must stop, or "".
func (r *rotation) takeOver(ctx workflow.Context, pre contract.PreCheckResult) string {
	if pre.Stale != nil {
		var out contract.SettleOutcome
		err := workflow.ExecuteActivity(writeCtx(ctx), act.SupersedePending,
			contract.SupersedeInput{Target: r.in.Target, VersionID: pre.Stale.ID, IdempotencyKey: r.key}).Get(ctx, &out)
		if err != nil {
			r.rec.add(ctx, systemActor, "supersede stale pending version", contract.StateFailed, err.Error())
			return fmt.Sprintf("supersede stale pending version %s of run %s: %v", pre.Stale.ID, pre.StaleRun, err)
		}
		detail := fmt.Sprintf("superseded stale pending version %s of closed run %s: marked failed (fingerprint %s; the run is %s)",
			out.Version.ID, orRun(out.Run, pre.StaleRun), out.Version.Fingerprint, out.RunState)
		if out.Already {
			detail = fmt.Sprintf("superseded stale pending version %s of closed run %s: it was already marked failed",
				out.Version.ID, orRun(out.Run, pre.StaleRun))
		}
		r.rec.add(ctx, systemActor, "supersede stale pending version", contract.StateDone, detail)
	}
	if pre.Drift != "" {
		r.rec.add(ctx, systemActor, "env sink drift", "recorded", pre.Drift+
			"; emergency: the live secret is adopted as the current version, so that a rollback restores it, and rotated from there")
	}
	return ""
}

func orRun(run, fallback string) string {
	if run == "" {
		return fallback
	}
	return run
}

// adoptedOverNote completes the adoption's timeline entry when it replaced a drifted version.
func adoptedOverNote(pre contract.PreCheckResult) string {
	if pre.Drift == "" {
		return ""
	}
	return "; replaces the drifted current version, which becomes previous (emergency)"
}

// settleHint tells, in the escalation, how to settle the version this run may leave pending
// when its compensation could not mark it failed. Empty otherwise.
func (r *rotation) settleHint() string {
	if !r.pendingLeft {
		return ""
	}
	v := "a version this run created"
	if r.res.New.ID != "" {
		v = fmt.Sprintf("version %s (fingerprint %s)", r.res.New.ID, r.res.New.Fingerprint)
	}
	return fmt.Sprintf(" The secret store may still hold %s as pending, and the next rotation refuses to start while it does: "+
		"once this run is resolved, settle it with `starter secret settle --target %s --as <approver>` (approvers: %s; it refuses a version that is live). "+
		"An emergency invalidation supersedes it by itself.",
		v, r.in.Target, strings.Join(r.policy.Approvers, ", "))
}

// storeAfterResolve reads the store once a resolve is accepted and records what is left: the
// current version, a pending version (this run's or another's), and an env sink that holds
// something else.
func (r *rotation) storeAfterResolve(ctx workflow.Context) {
	var st contract.SecretStatus
	err := workflow.ExecuteActivity(shortCtx(ctx), act.StoreStatus, contract.SecretStatusInput{Target: r.in.Target}).Get(ctx, &st)
	if err != nil {
		r.rec.add(ctx, systemActor, "store after resolve", contract.StateFailed, "cannot read the secret store: "+err.Error())
		return
	}
	outcome, detail := storeSummary(st, r.key, r.in.Target)
	r.rec.add(ctx, systemActor, "store after resolve", outcome, detail)
}

// storeSummary says in one line what a store holds that matters after an escalation; key is the
// run's idempotency key, to tell its own pending version.
func storeSummary(st contract.SecretStatus, key, target string) (outcome, detail string) {
	cur, hasCur := st.ByStage("current")
	p, hasP := st.ByStage("pending")
	drift := st.LiveFingerprint == "" || !hasCur || cur.Fingerprint != st.LiveFingerprint
	if hasCur && !hasP && !drift {
		return "clean", fmt.Sprintf("store clean: current %s (fingerprint %s) is live in the env sink, nothing pending", cur.ID, cur.Fingerprint)
	}
	parts := []string{"no current version"}
	if hasCur {
		parts[0] = fmt.Sprintf("current %s (fingerprint %s)", cur.ID, cur.Fingerprint)
	}
	if hasP {
		owner := "left by this run"
		if p.IdempotencyKey != key+"/create" {
			owner = "left by run " + orRun(p.Run, p.IdempotencyKey)
			if p.RunState != "" {
				owner += ", " + p.RunState
			}
		}
		parts = append(parts, fmt.Sprintf("pending %s (fingerprint %s, %s)", p.ID, p.Fingerprint, owner))
	}
	detail = "store: " + strings.Join(parts, ", ")
	switch {
	case st.LiveFingerprint == "":
		detail += "; the env sink holds no secret"
	case drift && st.LiveVersion != "":
		detail += fmt.Sprintf("; the env sink holds %s (fingerprint %s), not the current version", st.LiveVersion, st.LiveFingerprint)
	case drift:
		detail += fmt.Sprintf("; the env sink holds fingerprint %s, which no version of the store has", st.LiveFingerprint)
	}
	if hasP {
		if p.Live {
			detail += fmt.Sprintf("; pending %s is live: bring the target back to the current version, or start an emergency invalidation", p.ID)
		}
		detail += fmt.Sprintf("; the next rotation refuses to start until it is settled: `starter secret settle --target %s --as <approver>` once its run has closed", target)
	}
	return "needs attention", detail
}

// precheck runs the pre-rotation checks: if any fails, the run stops before anything changes.
func (r *rotation) precheck(ctx workflow.Context) error {
	if err := r.checkFreeze(ctx, "at pre-checks"); err != nil {
		return err
	}

	// Pre-rotation checks: if any fails, stop before anything changes.
	r.rec.phase("pre-checks")
	var pre contract.PreCheckResult
	// The pre-checks only read; adopting the live secret into the store is a write, and it is
	// its own step on the timeline.
	pcIn := contract.PreCheckInput{Target: r.in.Target, IdempotencyKey: r.key}
	// An emergency must always be able to rotate: its pre-checks report a pending version that
	// a closed run left behind (superseded below) and drift (the live secret is adopted first)
	// instead of failing on them.
	takeover := r.in.Mode == contract.ModeEmergency
	if takeover {
		pcIn.Mode, pcIn.LoginProbedAt, pcIn.DeployCheckedAt = r.in.Mode, r.in.LoginProbedAt, r.in.DeployCheckedAt
	}
	if err := execute(r.reads(precheckCtx(ctx)), act.PreCheck, pcIn).Get(ctx, &pre); err != nil {
		r.rec.step(ctx, stepPrecheck, contract.StateFailed, err.Error())
		return r.fail(ctx, contract.OutcomePrecheckFailed, err.Error())
	}
	r.res.Prechecks = pre.Checks
	r.res.Previous = pre.Current
	r.addValidation("pre-checks", pre.Validation)
	if !pre.OK {
		cause := failedChecks(pre.Checks)
		r.rec.step(ctx, stepPrecheck, contract.StateFailed, cause)
		return r.fail(ctx, contract.OutcomePrecheckFailed, cause)
	}
	if takeover {
		if cause := r.takeOver(ctx, pre); cause != "" {
			r.rec.step(ctx, stepPrecheck, contract.StateFailed, cause)
			return r.fail(ctx, contract.OutcomePrecheckFailed, cause)
		}
	}
	if pre.NeedsAdoption {
		var adopted contract.VersionRef
		// Drift (emergency only): the live secret replaces the drifted current version.
		if err := execute(writeCtx(ctx), act.AdoptLiveSecret,
			contract.AdoptInput{Target: r.in.Target, IdempotencyKey: r.key, ReplaceCurrent: pre.Drift != ""}).Get(ctx, &adopted); err != nil {
			cause := "adopt live secret into store: " + err.Error()
			r.rec.add(ctx, systemActor, "adopt live secret into store", contract.StateFailed, err.Error())
			r.rec.step(ctx, stepPrecheck, contract.StateFailed, cause)
			return r.fail(ctx, contract.OutcomePrecheckFailed, cause)
		}
		r.rec.add(ctx, systemActor, "adopt live secret into store", contract.StateDone,
			fmt.Sprintf("version %s fingerprint %s", adopted.ID, adopted.Fingerprint)+adoptedOverNote(pre))
		pre.Current = adopted
		r.res.Previous = adopted
	}
	r.rec.step(ctx, stepPrecheck, contract.StateDone, fmt.Sprintf("current version %s (fingerprint %s)", pre.Current.ID, pre.Current.Fingerprint))
	return nil
}

// recheck repeats the pre-checks after the waits, right before anything changes: an hour of
// waiting for a window or an approver is long enough for someone to edit JWT_SECRET by hand or
// for the backend to go down, and a rollback must go back to what is really live.
func (r *rotation) recheck(ctx workflow.Context) error {
	if err := r.checkFreeze(ctx, "before change"); err != nil {
		return err
	}
	r.rec.phase("re-checking")
	var pre contract.PreCheckResult
	// The re-check never adopts: a store that lost its current version since the pre-checks
	// shows up as a changed live secret below.
	err := execute(r.reads(precheckCtx(ctx)), act.PreCheck,
		contract.PreCheckInput{Target: r.in.Target, IdempotencyKey: r.key}).Get(ctx, &pre)
	switch {
	case err != nil:
	case !pre.OK:
		err = errors.New("pre-checks failed after the wait: " + failedChecks(pre.Checks))
	case pre.Current != r.res.Previous:
		err = fmt.Errorf("the live secret changed while the run waited (%s %s, now %s %s)",
			r.res.Previous.ID, r.res.Previous.Fingerprint, pre.Current.ID, pre.Current.Fingerprint)
	}
	if err != nil {
		r.addValidation("re-check", pre.Validation)
		r.rec.add(ctx, systemActor, "re-check before change", contract.StateFailed, err.Error())
		return r.fail(ctx, contract.OutcomePrecheckFailed, err.Error())
	}
	r.rec.add(ctx, systemActor, "re-check before change", contract.StateDone, "target unchanged since the pre-checks")
	return nil
}
