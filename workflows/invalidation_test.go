package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/probe"
)

// The shared scaffolding (test environment, t0, call recorder, harness, timeline helpers) is in
// helpers_test.go; the "inv" prefix marks this runbook's own fixtures.

const (
	invWorkflowID = "invalidate-demo" // contract.InvalidationID("demo")
	invRotationID = "rotation-demo"
	invNamespace  = testNamespace
)

var (
	invPrevV = contract.VersionRef{ID: "v7", Fingerprint: "fp-old"}
	invNewV  = contract.VersionRef{ID: "v8", Fingerprint: "fp-fresh"}
)

func invPolicy() contract.Policy { return basePolicy("#sec-incident") }

func invInput() contract.InvalidationInput {
	return contract.InvalidationInput{
		Target: "demo", Trigger: contract.TriggerTokenAbuse, Reason: "stolen tokens replayed from 203.0.113.9",
		RequestedBy: "alice", IncidentID: "INC-42",
		Restrict: []string{"/admin"}, RestrictTTL: 30 * time.Minute,
	}
}

// invCutoverOK is what VerifyCutover answers when the cutover worked.
func invCutoverOK() contract.ProbeResults {
	return contract.ProbeResults{
		{Name: "old_access_token_rejected", Method: "GET", Path: "/auth/me", Expected: 401, Got: 401, OK: true},
		{Name: "old_refresh_token_rejected", Method: "POST", Path: "/auth/refresh", Expected: 401, Got: 401, OK: true},
		{Name: "old_secret_token_rejected", Method: "GET", Path: "/auth/me", Expected: 401, Got: 401, OK: true},
		{Name: "fresh_login", Method: "POST", Path: "/auth/token", Expected: 200, Got: 200, OK: true},
		{Name: "critical GET /auth/me as user", Method: "GET", Path: "/auth/me", Expected: 200, Got: 200, OK: true},
		{Name: "restricted /admin", Method: "GET", Path: "/admin", Expected: 503, Got: 503, OK: true},
	}
}

func invLiftOK(prefixes []string) contract.ProbeResults {
	var rs contract.ProbeResults
	for _, p := range prefixes {
		rs = append(rs, probe.Result{Name: "restriction_lifted", Method: "GET", Path: p, Got: 200, OK: true})
	}
	return rs
}

// invCall is one activity attempt or child workflow start, in the order the run made them.
type invCall struct {
	callInfo
	Routes  contract.RoutesInput
	Cutover contract.CutoverInput
	Revoke  contract.RevokeInput
	Canary  contract.CanaryInput
	Child   contract.RotationInput
	ChildID string
}

type invHarness struct {
	*harness[invCall, contract.InvalidationResult]

	// child answers the SecretRotation child run.
	child  func(contract.RotationInput) (contract.RotationResult, error)
	verify func(contract.CutoverInput) (contract.ProbeResults, error)
	// deployPath is what the deploy path's dry run answers before the go-ahead.
	deployPath error
	// noCutoverInChild makes the child return no cutover checks, as a child of older code
	// would: the run then verifies on its own.
	noCutoverInChild bool
	// childCutover are the cutover checks the child was asked to run (guarded by mu).
	childCutover []contract.CutoverInput
	// rotationRunning makes the first start of rotation-<target> find it taken, and the
	// preemption cancel of it succeed.
	rotationRunning bool
	// childRefused says the first child start was refused as taken (rotationRunning).
	childRefused bool
	goAheadAt    time.Duration // when the test gives the go-ahead, for the revoke mock's canary time

	// guarded by mu
	preempts []contract.Preemption
	cancels  []string
	upserts  []temporal.SearchAttributes
}

// newInvHarness runs the emergency run of demo under its id, invalidate-demo.
func newInvHarness(t *testing.T) *invHarness {
	t.Helper()
	return newInvHarnessID(t, invWorkflowID)
}

// newInvHarnessID runs the emergency run under the workflow id id.
func newInvHarnessID(t *testing.T, id string) *invHarness {
	t.Helper()
	env := newTestEnv(EmergencyInvalidation, SecretRotation)
	h := &invHarness{harness: newHarness[invCall, contract.InvalidationResult](t, env, id, invPolicy(),
		func(base callInfo, args converter.EncodedValues) invCall {
			c := invCall{callInfo: base}
			switch c.Name {
			case "RestrictRoutes", "LiftRoutes":
				assert.NoError(t, args.Get(&c.Routes))
			case "VerifyCutover":
				assert.NoError(t, args.Get(&c.Cutover))
			case "RevokeSessions":
				assert.NoError(t, args.Get(&c.Revoke))
			case "PrepareCanary", "CleanupCanary":
				assert.NoError(t, args.Get(&c.Canary))
			}
			return c
		})}
	h.child = func(in contract.RotationInput) (contract.RotationResult, error) {
		return contract.RotationResult{Target: in.Target, Outcome: contract.OutcomeCompleted, ApprovedBy: in.ApprovedBy,
			Previous: invPrevV, New: invNewV,
			Changes: []contract.ConfigChange{{Item: "JWT_SECRET", FromVersion: invPrevV.ID, FromFingerprint: invPrevV.Fingerprint,
				ToVersion: invNewV.ID, ToFingerprint: invNewV.Fingerprint, Reason: "rotation"}},
			Validations: []contract.Validation{{Stage: "after rotation", OK: true, Results: invCutoverOK()[:1]}},
		}, nil
	}
	h.verify = func(contract.CutoverInput) (contract.ProbeResults, error) { return invCutoverOK(), nil }
	return h
}

func (h *invHarness) mock() {
	env := h.env
	h.mockPolicyAndAnnounce()
	env.OnActivity(acts.PrepareCanary, mock.Anything, mock.Anything).Return("canary.json", nil)
	env.OnActivity(acts.CheckDeployPath, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { return h.deployPath })
	env.OnActivity(acts.RevokeSessions, mock.Anything, mock.Anything).Return(
		func(context.Context, contract.RevokeInput) (contract.RevokeResult, error) {
			goAhead := t0.Add(h.goAheadAt).UTC()
			return contract.RevokeResult{Revoked: 42, Cutoff: goAhead.Add(20 * time.Millisecond),
				CanaryRejected: true, CanaryRejectedAt: goAhead.Add(150 * time.Millisecond)}, nil
		})
	env.OnActivity(acts.RestrictRoutes, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.LiftRoutes, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.RoutesInput) (contract.ProbeResults, error) {
			return invLiftOK(in.Prefixes), nil
		})
	env.OnActivity(acts.VerifyCutover, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.CutoverInput) (contract.ProbeResults, error) {
			return h.verify(in)
		})
	env.OnActivity(acts.CleanupCanary, mock.Anything, mock.Anything).Return(nil)

	env.OnWorkflow(SecretRotation, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
			if h.rotationRunning && !h.childRefused {
				h.childRefused = true
				return contract.RotationResult{}, testsuite.ErrMockStartChildWorkflowFailed
			}
			h.add(invCall{callInfo: callInfo{Name: "SecretRotation", At: workflow.Now(ctx).Sub(t0)}, Child: in,
				ChildID: workflow.GetInfo(ctx).WorkflowExecution.ID})
			res, err := h.child(in)
			if err != nil || in.CutoverOf == "" || h.noCutoverInChild {
				return res, err
			}
			// The child runs the parent's cutover checks with its validation (ValidateCutover):
			// h.verify answers them, as it answers VerifyCutover.
			ci := contract.CutoverInput{Target: in.Target, RunID: in.CutoverOf, LiveVersionID: res.New.ID,
				RetiredVersionID: res.Previous.ID, RotationValidated: true}
			for _, r := range in.Restricted {
				ci.Restricted, ci.RestrictedStatus = append(ci.Restricted, r.Prefix), r.Status
			}
			h.mu.Lock()
			h.childCutover = append(h.childCutover, ci)
			h.mu.Unlock()
			res.Cutover, err = h.verify(ci)
			return res, err
		})

	// No rotation of the target runs unless the test says so: the preempt signal and the cancel
	// request find nothing.
	h.reachRotation()
	env.OnSignalExternalWorkflow(invNamespace, invRotationID, "", contract.SignalPreempt, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error { return h.onPreempt(arg) })
	env.OnRequestCancelExternalWorkflow(invNamespace, invRotationID, "").Return(
		func(_, id, _ string) error { return h.onCancel(id) })
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, args.Get(0).(temporal.SearchAttributes))
	})
}

// run starts the emergency run as its requester would: without a statement, it gets the
// requester's signed start for the input's start action (break glass included) and reason.
func (h *invHarness) run(in contract.InvalidationInput) {
	h.t.Helper()
	if requester := strings.TrimSpace(in.RequestedBy); in.Statement == nil && requester != "" {
		in.Statement = h.signedStart(requester, in.StartAction(), in.Reason, in.StartArgs())
	}
	h.runRaw(in)
}

// runRaw starts the emergency run with in exactly as given.
func (h *invHarness) runRaw(in contract.InvalidationInput) {
	h.t.Helper()
	h.mock()
	h.execute(EmergencyInvalidation, in)
}

// approveAt has actor give the go-ahead at d, and makes the revoke mock's canary times follow it.
func (h *invHarness) approveAt(d time.Duration, actor string) *decision {
	h.goAheadAt = d
	return h.decideAt(d, contract.DecisionApprove, actor, "go")
}

// 1. A second person gives the go-ahead: sessions and routes are cut off first, then the secret is
// rotated, then the cutover is verified against the child's versions, users are told, and the
// routes lift at their TTL.
func TestEmergencyInvalidation_ApprovedBySecondPerson(t *testing.T) {
	h := newInvHarness(t)
	goAhead := h.approveAt(3*time.Minute, "bob")
	var waiting, restricted contract.Status
	h.at(2*time.Minute, func() { waiting = h.status() })
	h.at(20*time.Minute, func() { restricted = h.status() })
	h.run(invInput())
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.False(t, res.BreakGlass)
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), res.GoAheadAt)
	assert.Equal(t, time.UTC, res.GoAheadAt.Location())
	assert.Equal(t, t0.Add(3*time.Minute+20*time.Millisecond).UTC(), res.CutoffAt)
	assert.Equal(t, int64(150), res.ExposureMS, "old token refused 150 ms after the go-ahead")
	assert.Equal(t, invRotationID, res.Rotation)
	assert.Equal(t, contract.OutcomeCompleted, res.RotationOutcome)
	require.Len(t, res.Changes, 1)
	assert.Equal(t, invNewV.ID, res.Changes[0].ToVersion)
	assert.False(t, res.VerifiedAt.IsZero())

	// Order: containment (in parallel) before the child, then verification and cleanup, then the lift.
	steps := h.steps()
	assert.Equal(t, []string{"LoadPolicy", "PrepareCanary"}, steps[:2])
	iRevoke, iRestrict, iChild := slices.Index(steps, "RevokeSessions"), slices.Index(steps, "RestrictRoutes"), slices.Index(steps, "SecretRotation")
	require.True(t, iRevoke > 0 && iRestrict > 0 && iChild > 0, "steps: %v", steps)
	assert.Less(t, iRevoke, iChild, "sessions revoked before the rotation: %v", steps)
	assert.Less(t, iRestrict, iChild, "routes restricted before the rotation: %v", steps)
	assert.ElementsMatch(t, []string{"RevokeSessions", "RestrictRoutes"}, steps[2:4])
	assert.Equal(t, []string{"SecretRotation", "CleanupCanary", "LiftRoutes"}, steps[4:])

	// Nothing containing ran before the go-ahead.
	for _, name := range []string{"RevokeSessions", "RestrictRoutes", "SecretRotation"} {
		c := h.callsNamed(name)
		require.Len(t, c, 1, name)
		assert.Equal(t, 3*time.Minute, c[0].At, "%s at", name)
	}
	// The first controls run as local activities, in the task that took the go-ahead, and so do
	// the canary's cleanup and the user-impact announcement that closes the cutover; the
	// announcements before it and the lift go through the task queue.
	for _, name := range []string{"RevokeSessions", "RestrictRoutes", "CleanupCanary"} {
		assert.True(t, h.callsNamed(name)[0].Local, name)
	}
	assert.False(t, h.callsNamed("LiftRoutes")[0].Local)
	assert.True(t, h.announced("user-impact")[0].Local)
	assert.False(t, h.announced("emergency")[0].Local)
	assert.Equal(t, contract.RevokeInput{Target: "demo", RunID: invWorkflowID}, h.callsNamed("RevokeSessions")[0].Revoke)
	assert.Equal(t, contract.RoutesInput{Target: "demo", Prefixes: []string{"/admin"}, Status: 503}, h.callsNamed("RestrictRoutes")[0].Routes)
	assert.Equal(t, contract.CanaryInput{Target: "demo", RunID: invWorkflowID}, h.callsNamed("PrepareCanary")[0].Canary)
	assert.Equal(t, contract.CanaryInput{Target: "demo", RunID: invWorkflowID}, h.callsNamed("CleanupCanary")[0].Canary)

	// The child: emergency mode under the per-target rotation id, carrying the go-ahead.
	child := h.callsNamed("SecretRotation")[0]
	assert.Equal(t, invRotationID, child.ChildID)
	assert.Equal(t, contract.ModeEmergency, child.Child.Mode)
	assert.Equal(t, "bob", child.Child.ApprovedBy)
	assert.Equal(t, "alice", child.Child.RequestedBy)
	assert.Equal(t, "emergency: "+invInput().Reason, child.Child.Reason)
	assert.NoError(t, child.Child.Validate(t0))
	// It runs this run's cutover checks with its own validation, and its pre-check may trust
	// the canary session's login, made when the run started.
	assert.Equal(t, invWorkflowID, child.Child.CutoverOf)
	assert.True(t, child.Child.LoginProbedAt.Equal(t0), "canary login at %s", child.Child.LoginProbedAt)
	// The child's start found no rotation holding the target, so none was preempted: no signal,
	// no cancel, straight to the rotation.
	assert.Empty(t, h.preempts)
	assert.Empty(t, h.cancels)
	assert.False(t, hasEvent(h.timeline(), systemActor, "preempt rotation", contract.StateSkipped))

	// The child's validation ran the cutover checks with the restricted routes, so the run
	// judged them without logging in again.
	require.Len(t, h.childCutover, 1)
	assert.Equal(t, contract.CutoverInput{Target: "demo", RunID: invWorkflowID, LiveVersionID: invNewV.ID,
		RetiredVersionID: invPrevV.ID, Restricted: []string{"/admin"}, RestrictedStatus: 503, RotationValidated: true},
		h.childCutover[0])
	h.assertNotRun("VerifyCutover")
	verified := requireEvent(t, h.timeline(), systemActor, stepVerifyOld, contract.StateDone)
	assert.Contains(t, verified.Detail, "checked with "+invRotationID+"'s validation after its redeploy")
	assert.Equal(t, invCutoverOK(), res.Validations[len(res.Validations)-2].Results, "the child's cutover checks are the emergency verification")

	// Announcements by kind; the user-impact one tells everyone to log in again.
	assert.Equal(t, []string{"emergency", "user-impact", "restrictions-lifted"}, h.announceKinds())
	em := h.messages("emergency")[0]
	assert.Equal(t, "#sec-incident", em.Channel)
	assert.Equal(t, invWorkflowID, em.RunID)
	assert.Equal(t, []string{"alice", "bob", "carol"}, em.Mention)
	assert.Contains(t, em.Text, "requested by alice")
	assert.Contains(t, em.Text, "incident INC-42")
	assert.NotContains(t, em.Text, "BREAK GLASS")
	ui := h.messages("user-impact")[0]
	assert.Contains(t, ui.Text, "everyone must log in again")
	assert.Contains(t, ui.Text, "/admin are restricted until "+t0.Add(33*time.Minute).UTC().Format(time.RFC3339))

	// Validations: the child's, the emergency verification, the lift.
	var stages []string
	for _, v := range res.Validations {
		stages = append(stages, v.Stage)
		assert.True(t, v.OK, v.Stage)
	}
	assert.Equal(t, []string{"after rotation", "emergency verification", "restrictions lifted (TTL 30m0s ended)"}, stages)

	// contract.Status while waiting and while routes are restricted.
	assert.Equal(t, "waiting for go-ahead", waiting.Phase)
	assert.Equal(t, contract.StateRunning, checklist(waiting)[stepGoAhead])
	assert.Empty(t, waiting.Active)
	assert.Equal(t, "routes restricted", restricted.Phase)
	assert.Equal(t, "bob", restricted.ApprovedBy)
	require.Len(t, restricted.Active, 3)
	assert.Contains(t, restricted.Active[0], "all sessions revoked (cutoff ")
	assert.Equal(t, "routes /admin answer 503", restricted.Active[1])
	assert.Equal(t, "JWT_SECRET rotated to fp-fresh", restricted.Active[2])

	// At the end every checklist item is done, and only the non-expiring controls remain.
	s := h.status()
	assert.Equal(t, "closed: completed", s.Phase)
	assert.Equal(t, contract.OutcomeCompleted, s.Outcome)
	for name, state := range checklist(s) {
		assert.Equal(t, contract.StateDone, state, name)
	}
	require.Len(t, res.ActiveControls, 2)
	assert.Contains(t, res.ActiveControls[0], "all sessions revoked")
	assert.Equal(t, "JWT_SECRET rotated to fp-fresh", res.ActiveControls[1])
	assert.Contains(t, res.Summary, "Emergency invalidation of demo: completed.")
	assert.Contains(t, res.Summary, "Old tokens refused 150 ms after the go-ahead.")

	tl := h.timeline()
	assertUTC(t, tl)
	assert.Equal(t, tl, res.Timeline)
	req := requireEvent(t, tl, "alice", "requested", contract.TriggerTokenAbuse)
	assert.Equal(t, invInput().Reason, req.Detail)
	start := requireEvent(t, tl, "alice", "start", "verified")
	assert.Equal(t, "signed "+contract.ActionStartInvalidation, start.Detail)
	ok := goAhead.requireAccepted(t)
	assert.Equal(t, "bob", ok.Actor)
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), ok.At)
	assert.Equal(t, "approvals 1 of 1: bob; go", ok.Detail)
	requireRecorded(t, tl, ok)
	requireEvent(t, tl, systemActor, stepGoAhead, contract.StateDone)
	requireEvent(t, tl, systemActor, stepRevoke, contract.StateDone)
	requireEvent(t, tl, systemActor, stepRestrict, contract.StateDone)
	rot := requireEvent(t, tl, systemActor, stepRotate, contract.StateDone)
	assert.Contains(t, rot.Detail, "v7 → v8")
	requireEvent(t, tl, systemActor, stepVerifyOld, contract.StateDone)
	requireEvent(t, tl, systemActor, stepCritical, contract.StateDone)
	requireEvent(t, tl, systemActor, stepUserImpact, contract.StateDone)
	requireEvent(t, tl, systemActor, "closed", contract.OutcomeCompleted)
	assert.False(t, hasEvent(tl, systemActor, "preempt rotation", "waiting"), "no rotation was running")
	assert.Empty(t, h.upserts, "only break glass flags the run")
}

// 2. The requester may not give their own go-ahead; bob may.
func TestEmergencyInvalidation_SelfApprovalDenied(t *testing.T) {
	h := newInvHarness(t)
	alice := h.decideAt(time.Minute, contract.DecisionApprove, "alice", "it's me, trust me")
	dave := h.decideAt(80*time.Second, contract.DecisionApprove, "dave", "me too")
	mallory := h.decideAt(90*time.Second, contract.DecisionApprove, "mallory", "me three")
	var afterDenials contract.Status
	h.at(2*time.Minute, func() { afterDenials = h.status() })
	bob := h.approveAt(3*time.Minute, "bob")
	h.run(invInput())
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), res.GoAheadAt)

	// The denials changed nothing: the run still waited, and containment started with bob.
	assert.Equal(t, "waiting for go-ahead", afterDenials.Phase)
	assert.Empty(t, afterDenials.ApprovedBy)
	assert.Equal(t, 3*time.Minute, h.callsNamed("RevokeSessions")[0].At)
	assert.Equal(t, "bob", h.callsNamed("SecretRotation")[0].Child.ApprovedBy)

	tl := h.timeline()
	self := alice.requireDenied(t, "alice requested this run and cannot approve it")
	assert.Equal(t, t0.Add(time.Minute).UTC(), self.At)
	requireRecorded(t, tl, self)
	other := dave.requireDenied(t, "dave is not an approver for this target")
	assert.Equal(t, t0.Add(80*time.Second).UTC(), other.At)
	requireRecorded(t, tl, other)
	stranger := mallory.requireDenied(t, `unknown person "mallory"`)
	requireRecorded(t, tl, stranger)
	requireRecorded(t, tl, bob.requireAccepted(t))
	assert.False(t, hasEvent(tl, "alice", "approve", "accepted"))
}

// 3. Break glass: no second person, but the run is flagged, announced for review and searchable.
func TestEmergencyInvalidation_BreakGlass(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.BreakGlass = true
	h.run(in)
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.True(t, res.BreakGlass)
	assert.Equal(t, "alice (break glass)", res.ApprovedBy)
	assert.Equal(t, t0.UTC(), res.GoAheadAt, "no wait for a go-ahead")
	assert.Equal(t, time.Duration(0), h.callsNamed("RevokeSessions")[0].At)
	assert.Equal(t, "alice (break glass)", h.callsNamed("SecretRotation")[0].Child.ApprovedBy)

	// Announced twice: the emergency itself flagged, and a review request to the approvers.
	assert.Equal(t, []string{"emergency", "break-glass-review", "user-impact", "restrictions-lifted"}, h.announceKinds())
	assert.True(t, strings.HasPrefix(h.messages("emergency")[0].Text, "BREAK GLASS (no second approver)"))
	review := h.messages("break-glass-review")[0]
	assert.Equal(t, []string{"alice", "bob", "carol"}, review.Mention)
	assert.Contains(t, review.Text, "alice invalidated demo alone")
	assert.Contains(t, review.Text, "review run "+invWorkflowID)

	// The search attribute AuthopsBreakGlass=true was upserted, once.
	require.Len(t, h.upserts, 1)
	flag, ok := h.upserts[0].GetBool(contract.AttrBreakGlass)
	assert.True(t, ok && flag, "AuthopsBreakGlass upserted as true")
	assert.Equal(t, 1, h.upserts[0].Size())

	s := h.status()
	assert.True(t, s.BreakGlass)
	assert.Equal(t, "alice (break glass)", s.ApprovedBy)
	assert.Equal(t, contract.StateDone, checklist(s)[stepGoAhead])

	tl := h.timeline()
	start := requireEvent(t, tl, "alice", "start", "verified")
	assert.Equal(t, "signed "+contract.ActionStartInvalidation+contract.BreakGlassSuffix, start.Detail)
	bg := requireEvent(t, tl, "alice", "BREAK GLASS", "proceeding without a second approver")
	assert.Equal(t, in.Reason, bg.Detail)
	gate := requireEvent(t, tl, systemActor, stepGoAhead, contract.StateDone)
	assert.Equal(t, "break glass by alice", gate.Detail)
	assert.False(t, hasEvent(tl, systemActor, "flag break glass search attribute", contract.StateFailed))
	for _, e := range tl {
		assert.NotEqual(t, "approve", e.Action, "no approval took place")
	}
}

// 4. An emergency never expires quietly waiting for a go-ahead: it escalates and keeps waiting.
func TestEmergencyInvalidation_ApprovalTimeoutEscalates(t *testing.T) {
	h := newInvHarness(t)
	h.policy.EmergencyApprovalTimeout = 5 * time.Minute
	var at6, at11 contract.Status
	var escalationsAt6 int
	h.at(6*time.Minute, func() {
		at6 = h.status()
		escalationsAt6 = len(h.messages("escalation"))
	})
	h.at(11*time.Minute, func() { at11 = h.status() })
	h.approveAt(12*time.Minute, "bob")
	h.run(invInput())
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, t0.Add(12*time.Minute).UTC(), res.GoAheadAt)

	assert.Equal(t, 1, escalationsAt6)
	assert.Equal(t, "waiting for go-ahead", at6.Phase)
	assert.Empty(t, at6.Outcome)
	assert.Equal(t, "waiting for go-ahead", at11.Phase)

	var escAt []time.Duration
	for _, c := range h.callsNamed("Announce") {
		if c.Msg.Kind == "escalation" {
			escAt = append(escAt, c.At)
			assert.Equal(t, []string{"alice", "bob", "carol"}, c.Msg.Mention)
			assert.Contains(t, c.Msg.Text, "still waits for a go-ahead from one of alice, bob, carol")
		}
	}
	assert.Equal(t, []time.Duration{5 * time.Minute, 10 * time.Minute}, escAt)
	assert.Empty(t, h.messages("expired"))
	assert.Equal(t, 12*time.Minute, h.callsNamed("RevokeSessions")[0].At)

	tl := h.timeline()
	var escalated []time.Time
	for _, e := range tl {
		if e.Action == "approval" {
			assert.Equal(t, "escalated", e.Outcome, "never expired")
			escalated = append(escalated, e.At)
		}
	}
	assert.Equal(t, []time.Time{t0.Add(5 * time.Minute).UTC(), t0.Add(10 * time.Minute).UTC()}, escalated)
	requireEvent(t, tl, "bob", "approve", "accepted")
}

// 5. The route restrictions lift by themselves at their TTL.
func TestEmergencyInvalidation_RoutesLiftAtTTL(t *testing.T) {
	h := newInvHarness(t)
	h.approveAt(time.Minute, "bob")
	var before contract.Status
	h.at(30*time.Minute, func() { before = h.status() })
	h.run(invInput())
	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)

	// The TTL runs from the restriction (at the go-ahead, 1m; mocked steps take no time).
	lifts := h.callsNamed("LiftRoutes")
	require.Len(t, lifts, 1)
	assert.Equal(t, 31*time.Minute, lifts[0].At)
	assert.Equal(t, contract.RoutesInput{Target: "demo", Prefixes: []string{"/admin"}, Status: 503}, lifts[0].Routes)
	assert.Equal(t, time.Minute, h.callsNamed("RestrictRoutes")[0].At)
	assert.Equal(t, "routes restricted", before.Phase)
	assert.Equal(t, contract.StateRunning, checklist(before)[stepLift])
	assert.Contains(t, before.Active, "routes /admin answer 503")

	lifted := h.messages("restrictions-lifted")
	require.Len(t, lifted, 1)
	assert.Contains(t, lifted[0].Text, "TTL 30m0s ended")
	assert.Contains(t, lifted[0].Text, "/admin")

	s := h.status()
	assert.Equal(t, contract.StateDone, checklist(s)[stepLift])
	assert.NotContains(t, s.Active, "routes /admin answer 503")
	tl := h.timeline()
	ev := requireEvent(t, tl, systemActor, stepLift, contract.StateDone)
	assert.Contains(t, ev.Detail, "TTL")
	assert.Equal(t, t0.Add(31*time.Minute).UTC(), ev.At)
	for _, c := range res.ActiveControls {
		assert.False(t, strings.HasPrefix(c, "routes "), "lifted routes still listed: %v", res.ActiveControls)
	}
}

// 6. Someone in charge may lift early; anyone else is refused.
func TestEmergencyInvalidation_EarlyLift(t *testing.T) {
	h := newInvHarness(t)
	h.approveAt(time.Minute, "bob")
	dave := h.decideAt(3*time.Minute, contract.DecisionLiftRestrictions, "dave", "let me in")
	var afterDenial contract.Status
	h.at(4*time.Minute, func() { afterDenial = h.status() })
	bob := h.decideAt(5*time.Minute, contract.DecisionLiftRestrictions, "bob", "abuse stopped")
	h.run(invInput())
	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)

	assert.Equal(t, "routes restricted", afterDenial.Phase)
	assert.Contains(t, afterDenial.Active, "routes /admin answer 503")

	lifts := h.callsNamed("LiftRoutes")
	require.Len(t, lifts, 1, "lifted once, early, and not again at the TTL")
	assert.Equal(t, 5*time.Minute, lifts[0].At)
	assert.Less(t, lifts[0].At, 31*time.Minute)
	assert.True(t, t0.Add(5*time.Minute).Equal(h.env.Now()), "the run ends with the early lift, not at the TTL; ended at %s", h.env.Now())

	tl := h.timeline()
	denied := dave.requireDenied(t, "only the requester or an approver may lift restrictions")
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), denied.At)
	requireRecorded(t, tl, denied)
	acc := bob.requireAccepted(t)
	assert.Equal(t, "abuse stopped", acc.Detail)
	requireRecorded(t, tl, acc)
	step := requireEvent(t, tl, systemActor, stepLift, contract.StateDone)
	assert.Equal(t, "lifted early by bob", step.Detail)
	lifted := h.messages("restrictions-lifted")
	require.Len(t, lifted, 1)
	assert.Contains(t, lifted[0].Text, "lifted early by bob")
	assert.NotContains(t, h.status().Active, "routes /admin answer 503")
}

// invRolledBack is the error a failed emergency rotation ends with.
func invRolledBack() error {
	return temporal.NewNonRetryableApplicationError("Rotation of demo: rolled_back.", contract.ErrTypeRunbookFailed, nil,
		contract.RotationResult{Target: "demo", Outcome: contract.OutcomeRolledBack, Cause: "deploy failed", Previous: invPrevV, New: invNewV,
			Changes: []contract.ConfigChange{
				{Item: "JWT_SECRET", FromVersion: invPrevV.ID, ToVersion: invNewV.ID, Reason: "rotation"},
				{Item: "JWT_SECRET", FromVersion: invNewV.ID, ToVersion: invPrevV.ID, Reason: "rollback"},
			},
			Validations: []contract.Validation{{Stage: "after rollback", OK: true, Results: invCutoverOK()[:1]}},
		})
}

// While the run waits for its go-ahead it dry-runs the deploy path, beside the canary's login,
// and hands both times to its rotation, whose pre-check need not repeat them. A dry run that
// fails is on the timeline before anyone approves, and the rotation gets no time for it.
func TestEmergencyInvalidation_ChecksDeployPathWhileWaiting(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprintf("broken=%v", broken), func(t *testing.T) {
			h := newInvHarness(t)
			if broken {
				h.deployPath = temporal.NewNonRetryableApplicationError("dry run: exit status 3", "DeployFailed", nil)
			}
			var waiting []contract.Event
			h.at(time.Minute, func() { waiting = h.timeline() })
			h.approveAt(2*time.Minute, "bob")
			h.run(invInput())
			res := h.completed()
			assert.Equal(t, contract.OutcomeCompleted, res.Outcome)

			dry := h.callsNamed("CheckDeployPath")
			require.Len(t, dry, 1)
			assert.Equal(t, time.Duration(0), dry[0].At, "before the go-ahead")
			assert.False(t, dry[0].Local)
			child := h.callsNamed("SecretRotation")[0].Child
			assert.True(t, child.LoginProbedAt.Equal(t0))
			if broken {
				ev := requireEvent(t, waiting, systemActor, "deploy path dry run", contract.StateFailed)
				assert.Contains(t, ev.Detail, "exit status 3")
				assert.Contains(t, ev.Detail, "the rotation will stop at its pre-checks unless the deploy path is fixed")
				assert.True(t, child.DeployCheckedAt.IsZero(), "the rotation runs its own dry run")
				return
			}
			requireEvent(t, waiting, systemActor, "deploy path dry run", "passed")
			assert.True(t, child.DeployCheckedAt.Equal(t0), "dry run at %s", child.DeployCheckedAt)
		})
	}
}

// A child that returns no cutover checks (code from before they moved into its validation)
// leaves the run to verify on its own, as a local activity, without repeating the child's passed
// validation.
func TestEmergencyInvalidation_VerifiesWhenChildRanNoCutoverChecks(t *testing.T) {
	h := newInvHarness(t)
	h.noCutoverInChild = true
	h.approveAt(3*time.Minute, "bob")
	h.run(invInput())
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, []string{"SecretRotation", "VerifyCutover", "CleanupCanary", "LiftRoutes"}, h.steps()[4:])
	v := h.callsNamed("VerifyCutover")[0]
	assert.True(t, v.Local)
	assert.Equal(t, contract.CutoverInput{Target: "demo", RunID: invWorkflowID, LiveVersionID: invNewV.ID,
		RetiredVersionID: invPrevV.ID, Restricted: []string{"/admin"}, RestrictedStatus: 503, RotationValidated: true}, v.Cutover)
	verified := requireEvent(t, h.timeline(), systemActor, stepVerifyOld, contract.StateDone)
	assert.Contains(t, verified.Detail, "as "+invRotationID+"'s validation found after its redeploy")
}

// 7. A failed rotation leaves sessions invalidated (the safe state), lifts the routes and escalates.
func TestEmergencyInvalidation_RotationFailureKeepsSessionsInvalidated(t *testing.T) {
	h := newInvHarness(t)
	h.child = func(contract.RotationInput) (contract.RotationResult, error) {
		return contract.RotationResult{}, invRolledBack()
	}
	h.approveAt(2*time.Minute, "bob")
	h.run(invInput())
	res := h.runbookFailed()

	assert.Equal(t, contract.OutcomeRotationFailed, res.Outcome)
	assert.Contains(t, res.Cause, "rotation "+invRotationID)
	assert.Contains(t, res.Cause, "rolled_back")
	assert.Equal(t, contract.OutcomeRolledBack, res.RotationOutcome, "the child's result comes through its error details")
	assert.Len(t, res.Changes, 2)
	assert.Equal(t, "bob", res.ApprovedBy)

	// Compensation lifted the routes; nothing brought the sessions back, nothing was verified;
	// the canary session was removed from the worker's disk.
	assert.Equal(t, []string{"LoadPolicy", "PrepareCanary"}, h.steps()[:2])
	assert.Equal(t, []string{"SecretRotation", "LiftRoutes", "CleanupCanary"}, h.steps()[4:])
	h.assertNotRun("VerifyCutover")
	for _, s := range h.steps() {
		assert.False(t, strings.HasPrefix(s, "Restore"), "%s undoes the session revocation", s)
	}
	assert.Equal(t, 2*time.Minute, h.callsNamed("LiftRoutes")[0].At, "lifted as compensation, not at the TTL")

	// The session revocation is still an active control; the routes are not.
	require.Len(t, res.ActiveControls, 1)
	assert.True(t, strings.HasPrefix(res.ActiveControls[0], "all sessions revoked (cutoff "), res.ActiveControls[0])
	assert.Contains(t, res.Summary, "Active controls: all sessions revoked")

	esc := h.messages("escalation")
	require.Len(t, esc, 1)
	assert.Equal(t, []string{"alice", "bob", "carol"}, esc[0].Mention)
	assert.Contains(t, esc[0].Text, "EMERGENCY RUN FAILED on demo")
	assert.Contains(t, esc[0].Text, "Active controls now: all sessions revoked (cutoff ")
	assert.NotContains(t, esc[0].Text, "routes /admin answer")
	assert.Contains(t, esc[0].Text, "Sessions stay revoked")
	assert.Contains(t, esc[0].Text, "JWT_SECRET was NOT rotated: the PREVIOUS secret is live",
		"after the child rolled back, the escalation says which secret is live")
	assert.Empty(t, h.messages("user-impact"))
	assert.Equal(t, []string{"emergency", "restrictions-lifted", "escalation"}, h.announceKinds())

	s := h.status()
	assert.Equal(t, "closed: "+contract.OutcomeRotationFailed, s.Phase)
	assert.Equal(t, contract.OutcomeRotationFailed, s.Outcome)
	cl := checklist(s)
	assert.Equal(t, contract.StateDone, cl[stepRevoke])
	assert.Equal(t, contract.StateFailed, cl[stepRotate])
	assert.Equal(t, contract.StatePending, cl[stepVerifyOld])

	tl := h.timeline()
	requireEvent(t, tl, systemActor, stepRotate, contract.StateFailed)
	requireEvent(t, tl, systemActor, "compensate: lift route restrictions", contract.StateDone)
	sent := requireEvent(t, tl, systemActor, "escalation", "sent")
	assert.Contains(t, sent.Detail, "all sessions revoked")
	requireEvent(t, tl, systemActor, "closed", contract.OutcomeRotationFailed)
	assert.Equal(t, tl, res.Timeline)
}

// 8. Same failure, but the operator asked to keep the restrictions: they stay, and say so.
func TestEmergencyInvalidation_RotationFailureKeepsRestrictions(t *testing.T) {
	h := newInvHarness(t)
	h.child = func(contract.RotationInput) (contract.RotationResult, error) {
		return contract.RotationResult{}, invRolledBack()
	}
	h.approveAt(2*time.Minute, "bob")
	in := invInput()
	in.KeepRestrictions = true
	h.run(in)
	res := h.runbookFailed()

	assert.Equal(t, contract.OutcomeRotationFailed, res.Outcome)
	h.assertNotRun("LiftRoutes", "VerifyCutover")
	assert.Equal(t, []string{"SecretRotation", "CleanupCanary"}, h.steps()[len(h.steps())-2:])
	assert.Empty(t, h.messages("restrictions-lifted"))

	require.Len(t, res.ActiveControls, 2)
	assert.Contains(t, res.ActiveControls[0], "all sessions revoked")
	assert.Equal(t, "routes /admin answer 503", res.ActiveControls[1])
	esc := h.messages("escalation")
	require.Len(t, esc, 1)
	assert.Contains(t, esc[0].Text, "all sessions revoked")
	assert.Contains(t, esc[0].Text, "routes /admin answer 503")

	tl := h.timeline()
	skip := requireEvent(t, tl, systemActor, "lift route restrictions", contract.StateSkipped)
	assert.Equal(t, "operator chose to keep them", skip.Detail)
	assert.Contains(t, h.status().Active, "routes /admin answer 503")
}

// 9. The cutover is not proven: the run fails, escalates and lifts the routes.
func TestEmergencyInvalidation_VerificationFailure(t *testing.T) {
	h := newInvHarness(t)
	h.verify = func(contract.CutoverInput) (contract.ProbeResults, error) {
		rs := invCutoverOK()
		rs[0].OK, rs[0].Got, rs[0].Detail = false, 200, "old session still accepted"
		return rs, nil
	}
	h.approveAt(2*time.Minute, "bob")
	h.run(invInput())
	res := h.runbookFailed()

	assert.Equal(t, contract.OutcomeVerificationFailed, res.Outcome)
	assert.Contains(t, res.Cause, "old_access_token_rejected (want 401, got 200: old session still accepted)")
	assert.Equal(t, contract.OutcomeCompleted, res.RotationOutcome)
	assert.False(t, res.VerifiedAt.IsZero())
	var verification *contract.Validation
	for i := range res.Validations {
		if res.Validations[i].Stage == "emergency verification" {
			verification = &res.Validations[i]
		}
	}
	require.NotNil(t, verification)
	assert.False(t, verification.OK)

	assert.Equal(t, []string{"SecretRotation", "CleanupCanary", "LiftRoutes"}, h.steps()[4:])
	assert.Equal(t, 2*time.Minute, h.callsNamed("LiftRoutes")[0].At, "compensation, not the TTL")
	assert.Empty(t, h.messages("user-impact"))
	esc := h.messages("escalation")
	require.Len(t, esc, 1)
	assert.Contains(t, esc[0].Text, "old_access_token_rejected")
	assert.Contains(t, esc[0].Text, "JWT_SECRET rotated to fp-fresh")

	// Sessions revoked and the secret rotated stay listed; the lifted routes do not.
	require.Len(t, res.ActiveControls, 2)
	assert.Contains(t, res.ActiveControls[0], "all sessions revoked")
	assert.Equal(t, "JWT_SECRET rotated to fp-fresh", res.ActiveControls[1])

	cl := checklist(h.status())
	assert.Equal(t, contract.StateDone, cl[stepRotate])
	assert.Equal(t, contract.StateFailed, cl[stepVerifyOld])
	assert.Equal(t, contract.StateDone, cl[stepCritical])
	assert.Equal(t, contract.StatePending, cl[stepUserImpact])
	tl := h.timeline()
	requireEvent(t, tl, systemActor, stepVerifyOld, contract.StateFailed)
	requireEvent(t, tl, systemActor, "compensate: lift route restrictions", contract.StateDone)
	requireEvent(t, tl, systemActor, "closed", contract.OutcomeVerificationFailed)
}

// 10. A rejected go-ahead changes nothing.
func TestEmergencyInvalidation_Rejected(t *testing.T) {
	h := newInvHarness(t)
	dave := h.decideAt(time.Minute, contract.DecisionReject, "dave", "no")
	bob := h.decideAt(2*time.Minute, contract.DecisionReject, "bob", "false alarm: the tokens were test fixtures")
	h.run(invInput())
	res := h.completed()

	assert.Equal(t, contract.OutcomeRejected, res.Outcome)
	assert.Equal(t, "rejected by bob: false alarm: the tokens were test fixtures", res.Cause)
	assert.Empty(t, res.ApprovedBy)
	assert.True(t, res.GoAheadAt.IsZero())
	assert.Empty(t, res.ActiveControls)
	assert.Empty(t, res.Rotation)

	assert.Equal(t, []string{"LoadPolicy", "PrepareCanary", "CleanupCanary"}, h.steps())
	h.assertNotRun("RevokeSessions", "RestrictRoutes", "SecretRotation", "VerifyCutover", "LiftRoutes")
	assert.Empty(t, h.preempts, "a rejected run leaves a running rotation alone")
	assert.Empty(t, h.cancels)
	assert.Equal(t, []string{"emergency", "rejected"}, h.announceKinds())
	assert.Contains(t, h.messages("rejected")[0].Text, "nothing was changed")

	s := h.status()
	assert.Equal(t, "closed: rejected", s.Phase)
	assert.Equal(t, contract.StateFailed, checklist(s)[stepGoAhead])
	assert.Equal(t, contract.StatePending, checklist(s)[stepRevoke])
	tl := h.timeline()
	requireRecorded(t, tl, dave.requireDenied(t, "dave is neither an approver nor the requester"))
	requireRecorded(t, tl, bob.requireAccepted(t))
	requireEvent(t, tl, systemActor, "closed", contract.OutcomeRejected)
}

// 11a. Input validation.
func TestInvalidationInputValidate(t *testing.T) {
	with := func(f func(*contract.InvalidationInput)) contract.InvalidationInput {
		in := invInput()
		f(&in)
		return in
	}
	tests := []struct {
		name    string
		in      contract.InvalidationInput
		wantErr []string
	}{
		{name: "valid", in: invInput()},
		{name: "valid without routes", in: with(func(in *contract.InvalidationInput) { in.Restrict, in.RestrictTTL = nil, 0 })},
		{name: "valid break glass", in: with(func(in *contract.InvalidationInput) { in.BreakGlass = true })},
		{name: "valid 403", in: with(func(in *contract.InvalidationInput) { in.RestrictStatus = 403 })},
		{name: "missing reason", in: with(func(in *contract.InvalidationInput) { in.Reason = "" }), wantErr: []string{"reason is required"}},
		{name: "blank reason", in: with(func(in *contract.InvalidationInput) { in.Reason = " \t" }), wantErr: []string{"reason is required"}},
		{name: "break glass without reason", in: with(func(in *contract.InvalidationInput) { in.BreakGlass, in.Reason = true, "" }),
			wantErr: []string{"break glass needs a reason"}},
		{name: "missing target", in: with(func(in *contract.InvalidationInput) { in.Target = "" }), wantErr: []string{"target is required"}},
		{name: "missing requester", in: with(func(in *contract.InvalidationInput) { in.RequestedBy = " " }), wantErr: []string{"requested_by is required"}},
		{name: "empty trigger", in: with(func(in *contract.InvalidationInput) { in.Trigger = "" }), wantErr: []string{"trigger must be"}},
		{name: "bad trigger", in: with(func(in *contract.InvalidationInput) { in.Trigger = "bored" }), wantErr: []string{`got "bored"`}},
		{name: "malformed route", in: with(func(in *contract.InvalidationInput) { in.Restrict = []string{"admin"} }),
			wantErr: []string{`restrict: route "admin" is not a path prefix`}},
		{name: "route with wildcard", in: with(func(in *contract.InvalidationInput) { in.Restrict = []string{"/admin/*"} }),
			wantErr: []string{"not a path prefix"}},
		{name: "route cutting off health checks", in: with(func(in *contract.InvalidationInput) { in.Restrict = []string{"/healthz"} }),
			wantErr: []string{"would cut off health checks"}},
		{name: "zero TTL", in: with(func(in *contract.InvalidationInput) { in.RestrictTTL = 0 }), wantErr: []string{"restrict TTL must be positive, got 0s"}},
		{name: "negative TTL", in: with(func(in *contract.InvalidationInput) { in.RestrictTTL = -time.Minute }),
			wantErr: []string{"restrict TTL must be positive, got -1m0s"}},
		{name: "TTL without routes", in: with(func(in *contract.InvalidationInput) { in.Restrict = nil }),
			wantErr: []string{"restrict TTL given without routes"}},
		{name: "bad status", in: with(func(in *contract.InvalidationInput) { in.RestrictStatus = 200 }), wantErr: []string{"must be 403 or 503, got 200"}},
		{name: "all errors reported", in: contract.InvalidationInput{Trigger: "x", RestrictTTL: time.Minute},
			wantErr: []string{"target is required", "reason is required", "requested_by is required", "trigger must be", "without routes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertValidateErr(t, tc.in.Validate(), tc.wantErr)
		})
	}
}

// 11b. The workflow refuses bad input before doing anything.
func TestEmergencyInvalidation_InvalidInput(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.Trigger = "hunch"
	in.RestrictTTL = 0
	h.run(in)

	appErr := requireAppError(t, h.env.GetWorkflowError())
	assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), `got "hunch"`)
	assert.Contains(t, appErr.Error(), "restrict TTL must be positive")

	h.mu.Lock()
	assert.Empty(t, h.calls, "no activity and no child may run")
	assert.Empty(t, h.preempts)
	h.mu.Unlock()
	tl := h.timeline()
	requireEvent(t, tl, "alice", "requested", "hunch")
	rej := requireEvent(t, tl, systemActor, "input", "rejected")
	assert.Contains(t, rej.Detail, "trigger must be")
}

// A pending rotation of the target is preempted before the emergency rotation starts: the emergency
// run waits until the rotation says it has let go of the target, then starts its own.
func TestEmergencyInvalidation_PreemptsRunningRotation(t *testing.T) {
	h := newInvHarness(t)
	h.rotationRunning = true
	// The preempted rotation closes 30s later and says so.
	h.at(30*time.Second, func() {
		h.env.SignalWorkflow(contract.SignalRotationReleased, sealedRelease(invRotationID, invWorkflowID, contract.OutcomePreempted))
	})
	in := invInput()
	in.BreakGlass = true
	h.run(in)
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, []contract.Preemption{{By: invWorkflowID, Reason: in.Reason}}, h.preempts)
	assert.Equal(t, []string{invRotationID}, h.cancels)
	tl := h.timeline()
	ev := requireEvent(t, tl, systemActor, "preempt rotation", "waiting")
	assert.Contains(t, ev.Detail, invRotationID)
	rel := requireEvent(t, tl, systemActor, "preempt rotation", "released")
	assert.Equal(t, invRotationID+" closed as "+contract.OutcomePreempted, rel.Detail)
	assert.Equal(t, t0.Add(30*time.Second).UTC(), rel.At)
	child := h.callsNamed("SecretRotation")
	require.Len(t, child, 1)
	assert.Equal(t, 30*time.Second, child[0].At, "the emergency rotation starts once the target is free")
}

// Canceling the run while it waits for the go-ahead ends it as canceled with nothing changed.
func TestEmergencyInvalidation_CanceledWhileWaiting(t *testing.T) {
	h := newInvHarness(t)
	h.at(4*time.Minute, h.env.CancelWorkflow)
	h.run(invInput())

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a CanceledError, got %v", err)
	assert.Equal(t, []string{"LoadPolicy", "PrepareCanary", "CleanupCanary"}, h.steps())
	h.assertNotRun("RevokeSessions", "RestrictRoutes", "SecretRotation")
	s := h.status()
	assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
	requireEvent(t, h.timeline(), systemActor, "closed", contract.OutcomeCanceled)
}

// A lift-restrictions sent before any route was restricted must not lift the restriction the
// moment it is applied: its sender never saw it. It is refused when it arrives, and recorded.
func TestEmergencyInvalidation_LiftBeforeRestrictionDenied(t *testing.T) {
	h := newInvHarness(t)
	early := h.decideAt(time.Minute, contract.DecisionLiftRestrictions, "bob", "nothing to restrict yet, right?")
	h.approveAt(2*time.Minute, "bob")
	h.run(invInput())
	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)

	lifts := h.callsNamed("LiftRoutes")
	require.Len(t, lifts, 1)
	assert.Equal(t, 32*time.Minute, lifts[0].At, "the routes stay restricted for their TTL")
	tl := h.timeline()
	ev := early.requireDenied(t, "no route restriction of this run is waiting to be lifted")
	assert.Equal(t, "bob", ev.Actor)
	assert.Equal(t, t0.Add(time.Minute).UTC(), ev.At, "refused when it arrived, not kept for later")
	requireRecorded(t, tl, ev)
	assert.False(t, hasEvent(tl, "bob", contract.DecisionLiftRestrictions, "accepted"))
	assert.Contains(t, requireEvent(t, tl, systemActor, stepLift, contract.StateDone).Detail, "TTL")
}

// An emergency run started on the routine queue (by hand, or by an older starter)
// says so on its timeline; on the emergency queue it says nothing about queues.
func TestEmergencyInvalidation_RoutineQueueNoted(t *testing.T) {
	for _, queue := range []string{contract.TaskQueue, contract.EmergencyTaskQueue} {
		t.Run(queue, func(t *testing.T) {
			h := newInvHarness(t)
			h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: invWorkflowID, TaskQueue: queue})
			h.approveAt(time.Minute, "bob")
			h.run(invInput())
			assert.Equal(t, contract.OutcomeCompleted, h.completed().Outcome)
			noted := hasEvent(h.timeline(), systemActor, "task queue", contract.TaskQueue)
			assert.Equal(t, queue == contract.TaskQueue, noted)
		})
	}
}

// sealedRelease is the hand-over the rotation from sends to the emergency run to, sealed by its
// worker.
func sealedRelease(from, to, outcome string) contract.Released {
	rel := contract.Released{RotationID: from, Outcome: outcome}
	rel.Seal = peerSeal(contract.SignalRotationReleased, from, to, rel)
	return rel
}

// sealedPreempt is the preemption the emergency run of demo sends the rotation to.
func sealedPreempt(to string) contract.Preemption {
	p := contract.Preemption{By: contract.InvalidationID("demo"), Reason: preemptReason}
	p.Seal = peerSeal(contract.SignalPreempt, p.By, to, p)
	return p
}

// The test environment refuses a child's start with its own error, not the server's, and hands
// it to the parent by its text.
func init() {
	server := childTaken
	childTaken = func(err error) bool {
		return server(err) || err != nil && strings.Contains(err.Error(), testsuite.ErrMockStartChildWorkflowFailed.Error())
	}
}

// onPreempt records the run's preemption of rotation-<target>.
func (h *invHarness) onPreempt(arg any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := arg.(contract.Preemption)
	assert.True(h.t, ok, "preempt payload %T", arg)
	if assert.NotNil(h.t, p.Seal, "the preemption is sealed") {
		assert.Equal(h.t, invRotationID, p.Seal.To)
	}
	p.Seal = nil
	h.preempts = append(h.preempts, p)
	if h.rotationRunning {
		return nil
	}
	return errors.New("workflow not found")
}

// onCancel records the run's cancel of rotation-<target>.
func (h *invHarness) onCancel(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancels = append(h.cancels, id)
	if h.rotationRunning {
		return nil
	}
	return errors.New("workflow not found")
}

// reachRotation sends the run's preempt and cancel of a running rotation-<target> to onPreempt
// and onCancel: the test environment would route them to the run's own refused child
// (signalRun).
func (h *invHarness) reachRotation() {
	signal, cancel := signalRun, cancelRun
	h.t.Cleanup(func() { signalRun, cancelRun = signal, cancel })
	signalRun = func(ctx workflow.Context, id, runID, name string, arg any) workflow.Future {
		if id != invRotationID || name != contract.SignalPreempt || !h.rotationRunning {
			return signal(ctx, id, runID, name, arg)
		}
		f, set := workflow.NewFuture(ctx)
		set.Set(nil, h.onPreempt(arg))
		return f
	}
	cancelRun = func(ctx workflow.Context, id, runID string) workflow.Future {
		if id != invRotationID || !h.rotationRunning {
			return cancel(ctx, id, runID)
		}
		f, set := workflow.NewFuture(ctx)
		set.Set(nil, h.onCancel(id))
		return f
	}
}
