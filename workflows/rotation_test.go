package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/probe"
)

// The shared scaffolding (test environment, t0, call recorder, harness, timeline helpers) is in
// helpers_test.go.

var (
	prevV = contract.VersionRef{ID: "v1", Fingerprint: "fp-prev"}
	newV  = contract.VersionRef{ID: "v2", Fingerprint: "fp-new"}
)

var fingerprints = map[string]string{prevV.ID: prevV.Fingerprint, newV.ID: newV.Fingerprint}

// defaultPolicy is the target policy of every test unless a test changes it.
func defaultPolicy() contract.Policy {
	p := basePolicy("#sec-ops")
	p.ObservationWindow = 15 * time.Minute
	p.ClosedWindow = "end"
	return p
}

func manualInput() contract.RotationInput {
	return contract.RotationInput{Target: "demo", Reason: "quarterly key hygiene", RequestedBy: "alice", Mode: contract.ModeManual}
}

func okResults() contract.ProbeResults {
	return contract.ProbeResults{
		{Name: "healthz", Method: "GET", Path: "/healthz", Expected: 200, Got: 200, OK: true},
		{Name: "login", Method: "POST", Path: "/auth/token", Expected: 200, Got: 200, OK: true},
		{Name: "retired secret rejected", Method: "GET", Path: "/auth/me", Expected: 401, Got: 401, OK: true},
	}
}

// actCall is one activity attempt, seen by the activity-started listener.
type actCall struct {
	callInfo
	Version string // VersionInput.VersionID
	Live    string // ValidateInput
	Retired string
}

// String is the compact form the order assertions compare.
func (c actCall) String() string {
	s := c.Name
	switch c.Name {
	case "ApplySecret", "PromoteSecret", "MarkSecretFailed", "RollBackSecret":
		s += "(" + c.Version + ")"
	case "Validate":
		s += fmt.Sprintf("(live=%s,retired=%s)", c.Live, c.Retired)
	case "Announce":
		s += "(" + c.Msg.Kind + ")"
	}
	if c.Attempt > 1 {
		s += fmt.Sprintf("#%d", c.Attempt)
	}
	return s
}

type rotationHarness struct {
	*harness[actCall, contract.RotationResult]

	precheck func(contract.PreCheckInput) (contract.PreCheckResult, error)
	// deploy answers the n-th Deploy attempt (1-based, retries included).
	deploy   func(n int) (contract.DeployResult, error)
	validate func(contract.ValidateInput) (contract.ProbeResults, error)
	// firstDeployDelay makes the first Deploy attempt take this long on the workflow clock.
	firstDeployDelay time.Duration
	// promote answers PromoteSecret.
	promote func(contract.VersionInput) error

	deploys int // guarded by mu
}

// newRotationHarness runs the rotation of demo under its id, rotation-demo.
func newRotationHarness(t *testing.T) *rotationHarness {
	t.Helper()
	return newRotationHarnessID(t, contract.RotationID("demo"))
}

// newRotationHarnessID runs the rotation under the workflow id id.
func newRotationHarnessID(t *testing.T, id string) *rotationHarness {
	t.Helper()
	env := newTestEnv(SecretRotation)
	h := &rotationHarness{harness: newHarness[actCall, contract.RotationResult](t, env, id, defaultPolicy(),
		func(base callInfo, args converter.EncodedValues) actCall {
			c := actCall{callInfo: base}
			switch c.Name {
			case "ApplySecret", "PromoteSecret", "MarkSecretFailed", "RollBackSecret":
				var in contract.VersionInput
				assert.NoError(t, args.Get(&in))
				c.Version = in.VersionID
			case "Validate":
				var in contract.ValidateInput
				assert.NoError(t, args.Get(&in))
				c.Live, c.Retired = in.LiveVersionID, in.RetiredVersionID
			}
			return c
		})}
	h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
		return contract.PreCheckResult{
			OK: true,
			Checks: []contract.Check{
				{Name: "target config valid", OK: true},
				{Name: "secret store writable", OK: true},
				{Name: "env sink matches secret store", OK: true},
			},
			Current:    prevV,
			Validation: okResults(),
		}, nil
	}
	h.deploy = func(int) (contract.DeployResult, error) { return contract.DeployResult{ReadyMS: 120}, nil }
	h.validate = func(contract.ValidateInput) (contract.ProbeResults, error) { return okResults(), nil }
	h.promote = func(contract.VersionInput) error { return nil }
	return h
}

func (h *rotationHarness) mockActivities() {
	env := h.env
	h.mockPolicyAndAnnounce()
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.PreCheckInput) (contract.PreCheckResult, error) {
			return h.precheck(in)
		})
	env.OnActivity(acts.CreatePendingSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.SecretInput) (contract.VersionRef, error) {
			if in.IdempotencyKey == "" {
				return contract.VersionRef{}, temporal.NewNonRetryableApplicationError("no idempotency key", "Test", nil)
			}
			return newV, nil
		})
	env.OnActivity(acts.ApplySecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.VersionInput) (contract.ApplyResult, error) {
			return contract.ApplyResult{Key: "JWT_SECRET", Path: "backend/.env", VersionID: in.VersionID,
				Fingerprint: fingerprints[in.VersionID], Changed: true}, nil
		})
	if h.firstDeployDelay > 0 {
		env.OnActivity(acts.Deploy, mock.Anything, mock.Anything).After(h.firstDeployDelay).
			Return(contract.DeployResult{ReadyMS: 1}, nil).Once()
	}
	env.OnActivity(acts.Deploy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ contract.DeployInput) (contract.DeployResult, error) {
			h.mu.Lock()
			h.deploys++
			n := h.deploys
			h.mu.Unlock()
			return h.deploy(n)
		})
	env.OnActivity(acts.Validate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.ValidateInput) (contract.ProbeResults, error) {
			return h.validate(in)
		})
	env.OnActivity(acts.PromoteSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.VersionInput) error { return h.promote(in) })
	env.OnActivity(acts.MarkSecretFailed, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.RollBackSecret, mock.Anything, mock.Anything).Return(nil)
	// Read after an accepted resolve: the store is clean unless a test says otherwise.
	env.OnActivity(acts.StoreStatus, mock.Anything, mock.Anything).Return(contract.SecretStatus{Target: "demo",
		LiveFingerprint: prevV.Fingerprint, LiveVersion: prevV.ID,
		Versions: []contract.SecretVersion{{ID: prevV.ID, Stage: "current", Fingerprint: prevV.Fingerprint, Live: true}}}, nil)
}

// run starts the rotation as its requester would: a manual run without a statement gets the
// requester's signed start (for the reason given). Other modes start as they are.
func (h *rotationHarness) run(in contract.RotationInput) {
	h.t.Helper()
	if requester := strings.TrimSpace(in.RequestedBy); in.Statement == nil && in.Mode == contract.ModeManual && requester != "" {
		in.Statement = h.signedStart(requester, contract.ActionStartRotation, in.Reason, in.StartArgs())
	}
	h.runRaw(in)
}

// runRaw starts the rotation with in exactly as given.
func (h *rotationHarness) runRaw(in contract.RotationInput) {
	h.t.Helper()
	h.mockActivities()
	h.execute(SecretRotation, in)
}

// assertNotCalled asserts that no activity of names ran, in the recorder and in the mocks.
func (h *rotationHarness) assertNotCalled(names ...string) {
	h.t.Helper()
	for _, n := range names {
		h.assertNotRun(n)
		h.env.AssertActivityNotCalled(h.t, n, mock.Anything, mock.Anything)
	}
}

var (
	// PreCheck twice: before the waits, and again right before anything changes.
	rotationSteps = []string{"LoadPolicy", "PreCheck", "PreCheck", "CreatePendingSecret", "ApplySecret(v2)", "Deploy",
		"Validate(live=v2,retired=v1)", "PromoteSecret(v2)"}
	restoreSteps = []string{"ApplySecret(v1)", "Deploy", "Validate(live=v1,retired=v2)"}
)

func TestRotationInputValidate(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	base := contract.RotationInput{Target: "demo", RequestedBy: "alice", Mode: contract.ModeManual}
	with := func(f func(*contract.RotationInput)) contract.RotationInput { in := base; f(&in); return in }
	tests := []struct {
		name    string
		in      contract.RotationInput
		wantErr []string
	}{
		{name: "manual now", in: base},
		{name: "scheduled future window", in: with(func(in *contract.RotationInput) {
			in.Mode, in.WindowStart, in.Window = contract.ModeScheduled, now.Add(2*time.Hour), 30*time.Minute
		})},
		{name: "window open since 10m", in: with(func(in *contract.RotationInput) {
			in.WindowStart, in.Window = now.Add(-10*time.Minute), 30*time.Minute
		})},
		{name: "open-ended window started 30s ago", in: with(func(in *contract.RotationInput) { in.WindowStart = now.Add(-30 * time.Second) })},
		{name: "emergency", in: with(func(in *contract.RotationInput) { in.Mode, in.ApprovedBy = contract.ModeEmergency, "bob" })},
		{name: "missing target", in: with(func(in *contract.RotationInput) { in.Target = "" }), wantErr: []string{"target is required"}},
		{name: "missing requested_by", in: with(func(in *contract.RotationInput) { in.RequestedBy = "" }), wantErr: []string{"requested_by is required"}},
		{name: "blank requested_by", in: with(func(in *contract.RotationInput) { in.RequestedBy = "  " }), wantErr: []string{"requested_by is required"}},
		{name: "empty mode", in: with(func(in *contract.RotationInput) { in.Mode = "" }), wantErr: []string{"mode must be"}},
		{name: "bad mode", in: with(func(in *contract.RotationInput) { in.Mode = "yolo" }), wantErr: []string{`got "yolo"`}},
		{name: "negative window", in: with(func(in *contract.RotationInput) { in.Window = -time.Minute }), wantErr: []string{"negative"}},
		{name: "window in the past", in: with(func(in *contract.RotationInput) {
			in.WindowStart, in.Window = now.Add(-2*time.Hour), 30*time.Minute
		}), wantErr: []string{"window 2026-03-02T06:00:00Z–2026-03-02T06:30:00Z is in the past"}},
		{name: "window ending now", in: with(func(in *contract.RotationInput) {
			in.WindowStart, in.Window = now.Add(-30*time.Minute), 30*time.Minute
		}), wantErr: []string{"is in the past"}},
		{name: "open-ended window start in the past", in: with(func(in *contract.RotationInput) { in.WindowStart = now.Add(-time.Hour) }),
			wantErr: []string{"window start 2026-03-02T07:00:00Z is in the past"}},
		{name: "emergency with window", in: with(func(in *contract.RotationInput) {
			in.Mode, in.WindowStart = contract.ModeEmergency, now.Add(time.Hour)
		}), wantErr: []string{"emergency rotation has no window"}},
		{name: "all errors reported", in: contract.RotationInput{Mode: "x"},
			wantErr: []string{"target is required", "requested_by is required", "mode must be"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertValidateErr(t, tc.in.Validate(now), tc.wantErr)
		})
	}
}

// 1. Approval by a second person: the whole rotation runs in order and leaves its artifacts.
func TestRotation_ApprovedBySecondPerson(t *testing.T) {
	h := newRotationHarness(t)
	approval := h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "lgtm")
	var observing contract.Status
	h.at(10*time.Minute, func() { observing = h.status() })
	h.run(manualInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, rotationSteps, h.steps())
	h.assertNotCalled("MarkSecretFailed", "RollBackSecret")
	assert.Equal(t, []string{"planned", "completed"}, h.announceKinds())
	assert.Equal(t, []string{"alice", "bob", "carol"}, h.announced("planned")[0].Msg.Mention)

	// bob's Update was answered with the event the run recorded.
	answer := approval.requireAccepted(t)
	assert.Equal(t, "bob", answer.Actor)
	assert.Equal(t, t0.Add(5*time.Minute).UTC(), answer.At)
	assert.Equal(t, "approvals 1 of 1: bob; lgtm", answer.Detail)
	requireRecorded(t, res.Timeline, answer)

	// The rotation starts at the approval, not before.
	create := h.callsNamed("CreatePendingSecret")
	require.Len(t, create, 1)
	assert.Equal(t, 5*time.Minute, create[0].At)

	assert.Equal(t, "demo", res.Target)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, prevV, res.Previous)
	assert.Equal(t, newV, res.New)
	require.Len(t, res.Changes, 1)
	ch := res.Changes[0]
	assert.Equal(t, contract.ConfigChange{At: t0.Add(5 * time.Minute).UTC(), Item: "JWT_SECRET", FromVersion: "v1", FromFingerprint: "fp-prev",
		ToVersion: "v2", ToFingerprint: "fp-new", Reason: "rotation"}, ch)
	require.Len(t, res.Validations, 2)
	assert.Equal(t, "pre-checks", res.Validations[0].Stage)
	assert.Equal(t, "after rotation", res.Validations[1].Stage)
	assert.True(t, res.Validations[1].OK)
	assert.Len(t, res.Validations[1].Results, 3)
	assert.Len(t, res.Prechecks, 3)
	assert.Contains(t, res.Summary, "v1 → v2, approved by bob")

	// Timeline: who did what, in UTC.
	tl := res.Timeline
	assertUTC(t, tl)
	req := requireEvent(t, tl, "alice", "requested", contract.ModeManual)
	assert.Equal(t, t0.UTC(), req.At)
	start := requireEvent(t, tl, "alice", "start", "verified")
	assert.Equal(t, "signed "+contract.ActionStartRotation, start.Detail)
	ap := requireEvent(t, tl, "bob", "approve", "accepted")
	assert.Equal(t, t0.Add(5*time.Minute).UTC(), ap.At)
	assert.Equal(t, "approvals 1 of 1: bob; lgtm", ap.Detail)
	assert.True(t, ap.Verified)
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomeCompleted)
	assert.Equal(t, t0.Add(20*time.Minute).UTC(), closed.At, "the run closes after the 15m observation window")
	requireEvent(t, tl, systemActor, stepObserve, contract.StateDone)
	assert.Equal(t, tl, h.timeline(), "timeline query and result agree")

	// contract.Status during the observation window and after.
	assert.Equal(t, "observation window", observing.Phase)
	assert.Equal(t, "bob", observing.ApprovedBy)
	assert.Equal(t, contract.StateRunning, checklist(observing)[stepObserve])
	assert.Equal(t, contract.StateDone, checklist(observing)[stepPromote])
	final := h.status()
	assert.Equal(t, "closed: completed", final.Phase)
	assert.Equal(t, contract.OutcomeCompleted, final.Outcome)
	for _, st := range final.Checklist {
		assert.Equal(t, contract.StateDone, st.State, "checklist item %q", st.Name)
	}
}

// 2. The requester cannot approve their own rotation, nor can a person outside the approvers, nor
// someone who is no person at all.
func TestRotation_SelfApprovalDeniedThenSecondPersonApproves(t *testing.T) {
	h := newRotationHarness(t)
	self := h.decideAt(2*time.Minute, contract.DecisionApprove, "alice", "approving my own")
	dave := h.decideAt(3*time.Minute, contract.DecisionApprove, "dave", "trust me")
	mallory := h.decideAt(4*time.Minute, contract.DecisionReject, "mallory", "no")
	var waiting contract.Status
	var tlWaiting []contract.Event
	h.at(5*time.Minute, func() { waiting, tlWaiting = h.status(), h.timeline() })
	bob := h.decideAt(6*time.Minute, contract.DecisionApprove, "bob", "ok")
	h.run(manualInput())

	// While only denied attempts arrived, nothing moved.
	assert.Equal(t, "waiting for approval", waiting.Phase)
	assert.Empty(t, waiting.ApprovedBy)
	assert.Equal(t, "approvals 0 of 1; waiting for one more of: bob, carol", waiting.Approvals)
	assert.Equal(t, contract.StateRunning, checklist(waiting)[stepApproval])
	assert.Equal(t, contract.StatePending, checklist(waiting)[stepGenerate])
	selfEv := self.requireDenied(t, "alice requested this run and cannot approve it")
	assert.Equal(t, "alice", selfEv.Actor)
	assert.True(t, selfEv.Verified, "alice proved who she is; the rule refused her")
	assert.Equal(t, t0.Add(2*time.Minute).UTC(), selfEv.At)
	requireRecorded(t, tlWaiting, selfEv)
	daveEv := dave.requireDenied(t, "dave is not an approver for this target (approvers: alice, bob, carol)")
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), daveEv.At)
	requireRecorded(t, tlWaiting, daveEv)
	malloryEv := mallory.requireDenied(t, `unknown person "mallory"`)
	assert.Equal(t, "mallory", malloryEv.Actor)
	assert.False(t, malloryEv.Verified)
	requireRecorded(t, tlWaiting, malloryEv)
	bob.requireAccepted(t)

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, rotationSteps, h.steps())
	create := h.callsNamed("CreatePendingSecret")
	require.Len(t, create, 1)
	assert.Equal(t, 6*time.Minute, create[0].At, "denied approvals must not start the rotation")
	requireEvent(t, res.Timeline, "bob", "approve", "accepted")
	assert.False(t, hasEvent(res.Timeline, "alice", "approve", "accepted"))
	assertUTC(t, res.Timeline)
}

// 3. A rejection ends the run with nothing changed.
func TestRotation_Rejected(t *testing.T) {
	for _, who := range []string{"bob", "alice"} { // an approver, or the requester withdrawing
		t.Run(who, func(t *testing.T) {
			h := newRotationHarness(t)
			reject := h.decideAt(10*time.Minute, contract.DecisionReject, who, "not today")
			h.run(manualInput())
			requireRecorded(t, h.timeline(), reject.requireAccepted(t))

			res := h.completed()
			assert.Equal(t, contract.OutcomeRejected, res.Outcome)
			assert.Equal(t, "rejected by "+who+": not today", res.Cause)
			assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
			h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "Validate", "PromoteSecret")
			assert.Empty(t, res.Changes)
			assert.Empty(t, res.New.ID)
			assert.Empty(t, res.ApprovedBy)
			assert.Equal(t, []string{"planned", "rejected"}, h.announceKinds())
			ev := requireEvent(t, res.Timeline, who, "reject", "accepted")
			assert.Equal(t, t0.Add(10*time.Minute).UTC(), ev.At)
			requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRejected)
			s := h.status()
			assert.Equal(t, contract.OutcomeRejected, s.Outcome)
			assert.Equal(t, contract.StateFailed, checklist(s)[stepApproval])
			assert.Equal(t, contract.StatePending, checklist(s)[stepGenerate])
		})
	}
}

// 4. No approval within the timeout: the run expires after reminding the approvers.
func TestRotation_ApprovalExpires(t *testing.T) {
	h := newRotationHarness(t)
	h.run(manualInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeExpired, res.Outcome)
	assert.Equal(t, "no approval within 1h0m0s", res.Cause)
	assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy")
	assert.Empty(t, res.Changes)

	var at []time.Duration
	for _, c := range h.announced("reminder") {
		at = append(at, c.At)
		assert.Equal(t, []string{"alice", "bob", "carol"}, c.Msg.Mention)
		assert.Contains(t, c.Msg.Text, "waiting for approval by one of: alice, bob, carol (not alice)")
	}
	assert.Equal(t, []time.Duration{15 * time.Minute, 30 * time.Minute, 45 * time.Minute}, at)
	exp := h.announced("expired")
	require.Len(t, exp, 1)
	assert.Equal(t, time.Hour, exp[0].At)
	assert.Equal(t, []string{"planned", "reminder", "reminder", "reminder", "expired"}, h.announceKinds())

	reminded := 0
	for _, e := range res.Timeline {
		if e.Action == "approval" && e.Outcome == "reminded" {
			reminded++
		}
	}
	assert.Equal(t, 3, reminded)
	ev := requireEvent(t, res.Timeline, systemActor, "approval", "expired")
	assert.Equal(t, t0.Add(time.Hour).UTC(), ev.At)
	s := h.status()
	assert.Equal(t, contract.OutcomeExpired, s.Outcome)
	assert.Equal(t, contract.StateFailed, checklist(s)[stepApproval])
}

// 5. A future window: nothing rotates before it opens.
func TestRotation_WaitsForWindow(t *testing.T) {
	in := manualInput()
	in.WindowStart = t0.Add(2 * time.Hour)

	t.Run("approval after the window opens", func(t *testing.T) {
		h := newRotationHarness(t)
		var waiting contract.Status
		h.at(time.Hour, func() { waiting = h.status() })
		h.decideAt(2*time.Hour+20*time.Minute, contract.DecisionApprove, "bob", "")
		h.run(in)

		assert.Equal(t, "waiting for window", waiting.Phase)
		assert.Equal(t, contract.StateRunning, checklist(waiting)[stepWindow])
		assert.Equal(t, contract.StatePending, checklist(waiting)[stepApproval])
		assert.Equal(t, contract.StateDone, checklist(waiting)[stepPrecheck])

		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		assert.Equal(t, rotationSteps, h.steps())
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, 2*time.Hour+20*time.Minute, create[0].At)
		// The approval gate (and its reminders) only start when the window opens.
		rem := h.announced("reminder")
		require.Len(t, rem, 1)
		assert.Equal(t, 2*time.Hour+15*time.Minute, rem[0].At)
		win := requireEvent(t, res.Timeline, systemActor, stepWindow, contract.StateDone)
		assert.Equal(t, t0.Add(2*time.Hour).UTC(), win.At)
	})

	t.Run("early approval waits for the window", func(t *testing.T) {
		h := newRotationHarness(t)
		h.decideAt(30*time.Minute, contract.DecisionApprove, "bob", "approved ahead of time")
		var waiting contract.Status
		h.at(time.Hour, func() { waiting = h.status() })
		h.run(in)

		assert.Equal(t, "waiting for window", waiting.Phase)
		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, 2*time.Hour, create[0].At, "no rotation before the window")
		for _, c := range h.recorded() {
			if c.Name != "LoadPolicy" && c.Name != "PreCheck" && c.Name != "Announce" && (c.Name != "FrozenBy" || c.At > 0) {
				assert.GreaterOrEqual(t, c.At, 2*time.Hour, "%s ran before the window", c)
			}
		}
	})
}

// 6. An approval after the window closed changes nothing (closed_window "end").
func TestRotation_WindowClosed(t *testing.T) {
	in := manualInput()
	in.WindowStart = t0.Add(10 * time.Minute)
	in.Window = 30 * time.Minute

	t.Run("end", func(t *testing.T) {
		h := newRotationHarness(t)
		h.decideAt(45*time.Minute, contract.DecisionApprove, "bob", "sorry, late")
		h.run(in)

		res := h.completed()
		assert.Equal(t, contract.OutcomeWindowClosed, res.Outcome)
		assert.Contains(t, res.Cause, "approved after the window closed at "+t0.Add(40*time.Minute).UTC().Format(time.RFC3339))
		assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
		h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "PromoteSecret")
		assert.Empty(t, res.Changes)
		assert.Equal(t, []string{"planned", "reminder", "reminder", "window-closed"}, h.announceKinds())
		requireEvent(t, res.Timeline, "bob", "approve", "accepted")
		ev := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeWindowClosed)
		assert.Equal(t, t0.Add(45*time.Minute).UTC(), ev.At)
		assert.Equal(t, contract.OutcomeWindowClosed, h.status().Outcome)
	})

	t.Run("next", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.ClosedWindow = "next"
		h.decideAt(45*time.Minute, contract.DecisionApprove, "bob", "late")
		var waiting contract.Status
		h.at(2*time.Hour, func() { waiting = h.status() })
		h.run(in)

		assert.Equal(t, "waiting for next window", waiting.Phase)
		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, 24*time.Hour+10*time.Minute, create[0].At, "rotates in the same window the next day")
		requireEvent(t, res.Timeline, systemActor, "window closed", "waiting for next window")
	})
}

// 7. A failed redeploy rolls back to the previous secret.
func TestRotation_DeployFailureRollsBack(t *testing.T) {
	h := newRotationHarness(t)
	h.deploy = func(n int) (contract.DeployResult, error) {
		if n <= 2 { // both attempts of the rotation's deploy
			return contract.DeployResult{}, errors.New("deploy exited 1")
		}
		return contract.DeployResult{ReadyMS: 80}, nil
	}
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	assert.Contains(t, res.Cause, "deploy exited 1")
	assert.Equal(t, concat(rotationSteps[:6], []string{"Deploy#2"}, restoreSteps, []string{"RollBackSecret(v2)"}), h.steps())
	h.assertNotCalled("PromoteSecret", "MarkSecretFailed")
	// The second apply is the restore, after the new one.
	applies := h.callsNamed("ApplySecret")
	require.Len(t, applies, 2)
	assert.Equal(t, "v2", applies[0].Version)
	assert.Equal(t, "v1", applies[1].Version)

	require.Len(t, res.Changes, 2)
	assert.Equal(t, "v1", res.Changes[0].FromVersion)
	assert.Equal(t, "v2", res.Changes[0].ToVersion)
	assert.Equal(t, "v2", res.Changes[1].FromVersion)
	assert.Equal(t, "v1", res.Changes[1].ToVersion)
	assert.Equal(t, "fp-prev", res.Changes[1].ToFingerprint)
	assert.Equal(t, "rollback", res.Changes[1].Reason)
	last := res.Validations[len(res.Validations)-1]
	assert.Equal(t, "after rollback", last.Stage)
	assert.True(t, last.OK)

	requireEvent(t, res.Timeline, systemActor, "rollback", "started")
	requireEvent(t, res.Timeline, systemActor, "compensate: restore previous secret", contract.StateDone)
	requireEvent(t, res.Timeline, systemActor, "compensate: mark new version failed", contract.StateDone)
	requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRolledBack)
	assertUTC(t, res.Timeline)
	assert.Subset(t, h.announceKinds(), []string{"rollback", "rolled-back"})
	assert.Empty(t, h.announced("completed"))

	s := h.status()
	assert.Equal(t, "closed: rolled_back", s.Phase)
	assert.Equal(t, contract.OutcomeRolledBack, s.Outcome)
	cl := checklist(s)
	assert.Equal(t, contract.StateDone, cl[stepUpdateEnv])
	assert.Equal(t, contract.StateFailed, cl[stepRedeploy])
	assert.Equal(t, contract.StatePending, cl[stepValidate])
	assert.Equal(t, contract.StatePending, cl[stepPromote])
}

// 8. Failed validation after the redeploy rolls back too.
func TestRotation_ValidationFailureRollsBack(t *testing.T) {
	h := newRotationHarness(t)
	h.validate = func(in contract.ValidateInput) (contract.ProbeResults, error) {
		rs := okResults()
		if in.LiveVersionID == newV.ID {
			rs[2] = probe.Result{Name: "retired secret rejected", Method: "GET", Path: "/auth/me", Expected: 401, Got: 200, Detail: "old token still accepted"}
		}
		return rs, nil
	}
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	assert.Contains(t, res.Cause, "validation failed: retired secret rejected (want 401, got 200: old token still accepted)")
	assert.Equal(t, concat(rotationSteps[:7], restoreSteps, []string{"RollBackSecret(v2)"}), h.steps())
	h.assertNotCalled("PromoteSecret", "MarkSecretFailed")

	require.Len(t, res.Validations, 3)
	assert.Equal(t, "after rotation", res.Validations[1].Stage)
	assert.False(t, res.Validations[1].OK)
	assert.Equal(t, "after rollback", res.Validations[2].Stage)
	assert.True(t, res.Validations[2].OK)
	require.Len(t, res.Changes, 2)
	assert.Equal(t, "v1", res.Changes[1].ToVersion)
	requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRolledBack)
	cl := checklist(h.status())
	assert.Equal(t, contract.StateDone, cl[stepRedeploy])
	assert.Equal(t, contract.StateFailed, cl[stepValidate])
	assert.Equal(t, contract.StatePending, cl[stepPromote])
}

// 9. A rollback that fails escalates and waits for a human to resolve.
func TestRotation_RollbackFailureEscalates(t *testing.T) {
	h := newRotationHarness(t)
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	var escalated contract.Status
	h.at(10*time.Minute, func() { escalated = h.status() })
	dave := h.decideAt(20*time.Minute, contract.DecisionResolve, "dave", "all good")
	var afterDenied contract.Status
	h.at(25*time.Minute, func() { afterDenied = h.status() })
	bob := h.decideAt(30*time.Minute, contract.DecisionResolve, "bob", "restored by hand")
	h.run(manualInput())

	assert.True(t, strings.HasPrefix(escalated.Phase, "escalated"), "phase %q", escalated.Phase)
	assert.Empty(t, escalated.Outcome)
	assert.True(t, strings.HasPrefix(afterDenied.Phase, "escalated"), "a denied resolve keeps the run escalated")

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRollbackFailed, res.Outcome)
	assert.Contains(t, res.Cause, "rollback failed")
	assert.Contains(t, res.Cause, "resolved by bob: restored by hand")
	// The accepted resolve reads the store again (StoreStatus).
	assert.Equal(t, concat(rotationSteps[:6], []string{"Deploy#2", "ApplySecret(v1)", "Deploy", "Deploy#2", "RollBackSecret(v2)", "StoreStatus"}), h.steps())
	h.assertNotCalled("PromoteSecret", "MarkSecretFailed")

	esc := h.announced("escalation")
	require.Len(t, esc, 2, "escalated, then re-announced once 15m later although dave's denied resolve came in between")
	assert.Subset(t, esc[0].Msg.Mention, []string{"alice", "bob", "carol"}, "rollback owner and approvers are mentioned")
	assert.Contains(t, esc[0].Msg.Text, "ROLLBACK FAILED")
	assert.True(t, strings.HasPrefix(esc[1].Msg.Text, "STILL OPEN: ROLLBACK FAILED"), esc[1].Msg.Text)
	assert.Equal(t, esc[0].At+15*time.Minute, esc[1].At)

	denied := dave.requireDenied(t, "only the rollback owner or an approver may resolve")
	assert.Equal(t, t0.Add(20*time.Minute).UTC(), denied.At)
	requireRecorded(t, res.Timeline, denied)
	ok := bob.requireAccepted(t)
	assert.Equal(t, t0.Add(30*time.Minute).UTC(), ok.At)
	requireRecorded(t, res.Timeline, ok)
	requireEvent(t, res.Timeline, systemActor, "compensate: restore previous secret", contract.StateFailed)
	requireEvent(t, res.Timeline, systemActor, "escalation", "waiting for resolve")
	closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRollbackFailed)
	assert.Equal(t, t0.Add(30*time.Minute).UTC(), closed.At)
	assert.Equal(t, contract.OutcomeRollbackFailed, h.status().Outcome)
}

// 10. The rollback owner, and only them, may roll back during the observation window.
func TestRotation_ManualRollbackInObservationWindow(t *testing.T) {
	manual := []string{"ApplySecret(v1)", "Deploy", "Validate(live=v1,retired=v2)", "RollBackSecret(v2)"}
	cases := []struct {
		name          string
		owner         string // RollbackOwner; "" means the requester alice
		denied, actor string
	}{
		{name: "requester is owner by default", owner: "", denied: "bob", actor: "alice"},
		{name: "explicit owner", owner: "carol", denied: "alice", actor: "carol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newRotationHarness(t)
			in := manualInput()
			in.RollbackOwner = tc.owner
			h.decideAt(time.Minute, contract.DecisionApprove, "bob", "")
			mallory := h.decideAt(3*time.Minute, contract.DecisionRollback, "mallory", "")
			denied := h.decideAt(4*time.Minute, contract.DecisionRollback, tc.denied, "")
			rollback := h.decideAt(6*time.Minute, contract.DecisionRollback, tc.actor, "login errors spiking")
			h.run(in)

			res := h.completed()
			assert.Equal(t, contract.OutcomeRolledBackManually, res.Outcome)
			assert.Equal(t, "rolled back by "+tc.actor+": login errors spiking", res.Cause)
			assert.Equal(t, concat(rotationSteps, manual), h.steps())
			h.assertNotCalled("MarkSecretFailed")
			for _, c := range h.callsNamed("RollBackSecret") {
				assert.Equal(t, 6*time.Minute, c.At)
			}

			requireRecorded(t, res.Timeline, mallory.requireDenied(t, `unknown person "mallory"`))
			d := denied.requireDenied(t, "only the rollback owner "+tc.actor+" may roll back")
			requireRecorded(t, res.Timeline, d)
			acc := rollback.requireAccepted(t)
			assert.Equal(t, t0.Add(6*time.Minute).UTC(), acc.At)
			assert.Equal(t, "rolling back now; login errors spiking", acc.Detail)
			requireRecorded(t, res.Timeline, acc)
			closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRolledBackManually)
			assert.Equal(t, t0.Add(6*time.Minute).UTC(), closed.At)

			require.Len(t, res.Changes, 2)
			assert.Equal(t, contract.ConfigChange{At: t0.Add(6 * time.Minute).UTC(), Item: "JWT_SECRET", FromVersion: "v2", FromFingerprint: "fp-new",
				ToVersion: "v1", ToFingerprint: "fp-prev", Reason: "manual rollback"}, res.Changes[1])
			assert.Equal(t, "after manual rollback", res.Validations[len(res.Validations)-1].Stage)
			assert.Subset(t, h.announceKinds(), []string{"completed", "rollback", "rolled-back"})
			s := h.status()
			assert.Equal(t, contract.OutcomeRolledBackManually, s.Outcome)
			assert.Equal(t, contract.StateDone, checklist(s)[stepObserve])
		})
	}
}

// 11. A failed pre-check stops the run before anything changes.
func TestRotation_PrecheckFailed(t *testing.T) {
	t.Run("failed check", func(t *testing.T) {
		h := newRotationHarness(t)
		h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
			return contract.PreCheckResult{OK: false, Current: prevV, Checks: []contract.Check{
				{Name: "target config valid", OK: true},
				{Name: "env sink matches secret store", OK: false, Detail: "drift"},
			}}, nil
		}
		h.run(manualInput())

		res := h.runbookFailed()
		assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
		assert.Equal(t, "env sink matches secret store: drift", res.Cause)
		assert.Len(t, res.Prechecks, 2)
		assert.Empty(t, res.Changes)
		assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
		h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy")
		assert.Equal(t, []string{contract.OutcomePrecheckFailed}, h.announceKinds())
		requireEvent(t, res.Timeline, systemActor, stepPrecheck, contract.StateFailed)
		s := h.status()
		assert.Equal(t, contract.OutcomePrecheckFailed, s.Outcome)
		assert.Equal(t, contract.StateFailed, checklist(s)[stepPrecheck])
		assert.Equal(t, contract.StatePending, checklist(s)[stepApproval])
	})
	t.Run("activity error", func(t *testing.T) {
		h := newRotationHarness(t)
		h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
			return contract.PreCheckResult{}, temporal.NewNonRetryableApplicationError("unknown target", contract.ErrTypeConfig, nil)
		}
		h.run(manualInput())

		res := h.runbookFailed()
		assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
		assert.Contains(t, res.Cause, "unknown target")
		assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
		h.assertNotCalled("CreatePendingSecret")
	})
}

// 12. Bad input fails the run before any activity.
func TestRotation_InvalidInput(t *testing.T) {
	cases := map[string]func(*contract.RotationInput){
		"missing requested_by": func(in *contract.RotationInput) { in.RequestedBy = "" },
		"bad mode":             func(in *contract.RotationInput) { in.Mode = "whenever" },
		"window in the past": func(in *contract.RotationInput) {
			in.Mode, in.WindowStart, in.Window = contract.ModeScheduled, t0.Add(-2*time.Hour), 30*time.Minute
		},
		// Started on its own, emergency mode would skip the second person.
		"emergency mode without an emergency parent": func(in *contract.RotationInput) {
			in.Mode, in.ApprovedBy = contract.ModeEmergency, "alice"
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			h := newRotationHarness(t)
			in := manualInput()
			mutate(&in)
			h.run(in)

			appErr := requireAppError(t, h.env.GetWorkflowError())
			assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Empty(t, h.calls, "no activity may run")
			h.assertNotCalled("LoadPolicy", "PreCheck", "Announce", "CreatePendingSecret")
			requireEvent(t, h.timeline(), systemActor, "input", "rejected")
		})
	}
}

// 13. Cancellation: before any change nothing is undone; mid-rotation the previous secret is
// restored although the run is canceled.
func TestRotation_Canceled(t *testing.T) {
	t.Run("while waiting for approval", func(t *testing.T) {
		h := newRotationHarness(t)
		self := h.decideAt(5*time.Minute, contract.DecisionApprove, "alice", "") // denied: still waiting
		h.at(20*time.Minute, func() { h.env.CancelWorkflow() })
		h.run(manualInput())
		self.requireDenied(t, "cannot approve it")

		err := h.env.GetWorkflowError()
		require.Error(t, err)
		assert.True(t, temporal.IsCanceledError(err), "want canceled, got %v", err)
		assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
		h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy")
		tl := h.timeline()
		ev := requireEvent(t, tl, systemActor, "canceled", contract.OutcomeCanceled)
		assert.Equal(t, "canceled before any change", ev.Detail)
		assert.Equal(t, t0.Add(20*time.Minute).UTC(), ev.At)
		s := h.status()
		assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
		assert.Equal(t, "closed: canceled", s.Phase, "a closed run must not report that it is still waiting")
		assert.Equal(t, contract.StatePending, checklist(s)[stepGenerate])
	})

	t.Run("during deploy", func(t *testing.T) {
		h := newRotationHarness(t)
		h.firstDeployDelay = 10 * time.Minute // the rotation's deploy hangs
		h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
		h.at(8*time.Minute, func() { h.env.CancelWorkflow() })
		h.run(manualInput())

		err := h.env.GetWorkflowError()
		require.Error(t, err)
		assert.True(t, temporal.IsCanceledError(err), "want canceled, got %v", err)
		assert.Equal(t, concat(rotationSteps[:6], restoreSteps, []string{"RollBackSecret(v2)"}), h.steps())
		h.assertNotCalled("PromoteSecret", "MarkSecretFailed")
		applies := h.callsNamed("ApplySecret")
		require.Len(t, applies, 2)
		assert.Equal(t, "v1", applies[1].Version)
		assert.GreaterOrEqual(t, applies[1].At, 8*time.Minute, "restore runs after the cancel")

		tl := h.timeline()
		requireEvent(t, tl, systemActor, "rollback", "started")
		requireEvent(t, tl, systemActor, "compensate: restore previous secret", contract.StateDone)
		requireEvent(t, tl, systemActor, "closed", contract.OutcomeCanceled)
		s := h.status()
		assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
		assert.Equal(t, "closed: canceled", s.Phase)
		assert.Equal(t, contract.StateFailed, checklist(s)[stepRedeploy])
		assert.Equal(t, contract.StatePending, checklist(s)[stepPromote])
	})
}

// A rollback sent before the rotation finished did not see the new secret live: it must not roll
// back a rotation that has only just completed. It is refused when it arrives, and recorded.
func TestRotation_RollbackBeforeObservationWindowDenied(t *testing.T) {
	h := newRotationHarness(t)
	early := h.decideAt(2*time.Minute, contract.DecisionRollback, "alice", "too early")
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, rotationSteps, h.steps())
	h.assertNotCalled("RollBackSecret", "MarkSecretFailed")
	ev := early.requireDenied(t, "a rollback is taken only during the observation window")
	assert.Equal(t, "alice", ev.Actor)
	assert.Equal(t, t0.Add(2*time.Minute).UTC(), ev.At, "refused when it arrived, not kept for later")
	requireRecorded(t, res.Timeline, ev)
	assert.False(t, hasEvent(res.Timeline, "alice", "rollback", "accepted"))
	requireEvent(t, res.Timeline, systemActor, stepObserve, contract.StateDone)
	closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeCompleted)
	assert.Equal(t, t0.Add(20*time.Minute).UTC(), closed.At)
}

// A resolve sent before the escalation cannot resolve it: a human must act after the failure.
func TestRotation_ResolveBeforeEscalationDenied(t *testing.T) {
	h := newRotationHarness(t)
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	early := h.decideAt(2*time.Minute, contract.DecisionResolve, "bob", "pre-emptive")
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	var escalated contract.Status
	h.at(10*time.Minute, func() { escalated = h.status() })
	fixed := h.decideAt(30*time.Minute, contract.DecisionResolve, "alice", "fixed by hand")
	h.run(manualInput())

	assert.True(t, strings.HasPrefix(escalated.Phase, "escalated"), "phase %q: the early resolve did not resolve it", escalated.Phase)
	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRollbackFailed, res.Outcome)
	ev := early.requireDenied(t, "the run is not escalated; there is nothing to resolve")
	assert.Equal(t, t0.Add(2*time.Minute).UTC(), ev.At)
	requireRecorded(t, res.Timeline, ev)
	ok := fixed.requireAccepted(t)
	assert.Equal(t, t0.Add(30*time.Minute).UTC(), ok.At)
	requireRecorded(t, res.Timeline, ok)
	assert.Contains(t, res.Cause, "resolved by alice: fixed by hand")
	assert.NotContains(t, res.Cause, "pre-emptive")
	closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRollbackFailed)
	assert.Equal(t, t0.Add(30*time.Minute).UTC(), closed.At)
}
