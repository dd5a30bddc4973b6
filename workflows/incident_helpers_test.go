package workflows

// Fixtures of the AuthIncident tests: the incident policy, the activity mocks, the recorder's
// call type, decisions with Args and the signed starts of child runs. The "inc" prefix marks
// them; the shared scaffolding is in helpers_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
)

const (
	incID      = "incident-42"
	incSummary = "credential stuffing from 203.0.113.0/24"
	// incProbeFrom is where the worker's probes come from, as the snapshot reports it.
	incProbeFrom = "127.0.0.1"
)

// incPolicy is the incident policy of every test unless a test changes it: one target, demo;
// approvers alice, bob and carol; dave a person but no approver. A targeted logout, a range deny,
// the log level and a reset need the owner alone; a global logout one approver besides. The
// second-person rules are the config's defaults: a reset of more than 5 accounts or of admin or
// probe-admin, and a deny wider than /16 or /48, need an approver besides the asker.
func incPolicy() contract.IncidentPolicy {
	return contract.IncidentPolicy{
		Targets:            []string{"demo"},
		Approvers:          []string{"alice", "bob", "carol"},
		TargetApprovers:    map[string][]string{"demo": {"alice", "bob", "carol"}},
		ResetWithoutQuorum: contract.DefaultResetWithoutQuorum,
		AdminAccounts:      []string{"admin", "administrator", "root", "probe-admin"},
		DenyWithoutQuorum:  contract.DenyWidth{IPv4: 16, IPv6: 48},
		KeepFor:            contract.DefaultKeepFor,
		Channel:            "#sec-incident",
		People:             []contract.Person{person("alice"), person("bob"), person("carol"), person("dave")},
		OwnerAck:           5 * time.Minute, FirstSteps: 15 * time.Minute,
		StatusEvery: map[string]time.Duration{"critical": 15 * time.Minute, "high": 30 * time.Minute, "medium": time.Hour},
		Actions: map[string]contract.ActionRule{
			contract.ContainLogoutAll:    {Who: []string{"owner"}, Quorum: 1},
			contract.ContainLogoutUsers:  {Who: []string{"owner"}, Quorum: 0},
			contract.ContainDenyCIDR:     {Who: []string{"owner", "approvers"}, Quorum: 0},
			contract.ContainLogLevel:     {Who: []string{"owner"}, Quorum: 0},
			contract.ContainRequireReset: {Who: []string{"owner"}, Quorum: 0},
			contract.ContainInvalidate:   {Who: []string{"owner"}, Quorum: 1},
			contract.ContainRotate:       {Who: []string{"owner"}, Quorum: 1},
		},
	}
}

// incInput is a high credential-stuffing incident on demo, reported by alice.
func incInput() contract.IncidentInput {
	return contract.IncidentInput{Trigger: "credential-stuffing", Severity: "high", Summary: incSummary,
		Reporter: "alice", Source: "cli", Targets: []string{"demo"}}
}

func incProbesOK(stage string) contract.ProbeResults {
	return contract.ProbeResults{
		{Name: stage + " healthz", Method: "GET", Path: "/healthz", Expected: 200, Got: 200, OK: true},
		{Name: stage + " login", Method: "POST", Path: "/auth/token", Expected: 200, Got: 200, OK: true},
		{Name: stage + " me", Method: "GET", Path: "/auth/me", Expected: 200, Got: 200, OK: true},
	}
}

// incCall is one activity attempt or child run, with the inputs the tests assert on.
type incCall struct {
	callInfo
	Target   contract.IncidentTargetInput
	Measure  contract.MeasureInput
	Verify   contract.IncidentVerifyInput
	Report   contract.ReportInput
	Archive  contract.ArchiveInput
	Channel  contract.IncidentChannelInput
	Invite   contract.IncidentInviteInput
	Inv      contract.InvalidationInput
	Rotation contract.RotationInput
	ChildID  string
}

// String is the compact form: a measure with what it does and where.
func (c incCall) String() string {
	switch c.Name {
	case "ApplyMeasure", "UndoMeasure":
		return fmt.Sprintf("%s(%s %s on %s)", c.Name, c.Measure.ActionID, c.Measure.Request.Kind, c.Measure.Target)
	}
	return c.Name
}

type incHarness struct {
	*harness[incCall, contract.Report]
	ipolicy contract.IncidentPolicy

	snapshot func(contract.IncidentTargetInput) (contract.Snapshot, error)
	confirm  func(contract.IncidentTargetInput) (contract.ProbeResults, error)
	apply    func(contract.MeasureInput) (contract.MeasureResult, error)
	// invalidation and rotation answer the child runs.
	invalidation func(workflow.Context, contract.InvalidationInput) (contract.InvalidationResult, error)
	rotation     func(workflow.Context, contract.RotationInput) (contract.RotationResult, error)

	upserts []temporal.SearchAttributes // guarded by mu
}

func newIncHarness(t *testing.T) *incHarness {
	t.Helper()
	return newIncHarnessID(t, incID)
}

func newIncHarnessID(t *testing.T, id string) *incHarness {
	t.Helper()
	env := newTestEnv(AuthIncident)
	h := &incHarness{ipolicy: incPolicy()}
	// The child runs are stand-ins registered under the runbooks' names, not mocks: the test
	// environment tells the parent a mocked child started only once the mock returns, so a mock
	// that takes time would hold the contain decision until the child ends.
	env.RegisterWorkflowWithOptions(h.fakeInvalidation, workflow.RegisterOptions{Name: contract.WorkflowEmergencyInvalidation})
	env.RegisterWorkflowWithOptions(h.fakeRotation, workflow.RegisterOptions{Name: contract.WorkflowSecretRotation})
	h.harness = newHarness[incCall, contract.Report](t, env, id, basePolicy("#sec-incident"),
		func(base callInfo, args converter.EncodedValues) incCall {
			c := incCall{callInfo: base}
			switch c.Name {
			case "SnapshotTarget", "ConfirmAuth":
				assert.NoError(t, args.Get(&c.Target))
			case "ApplyMeasure", "UndoMeasure":
				assert.NoError(t, args.Get(&c.Measure))
			case "VerifyIncident":
				assert.NoError(t, args.Get(&c.Verify))
			case "WriteReport":
				assert.NoError(t, args.Get(&c.Report))
			case "ArchiveTimeline":
				assert.NoError(t, args.Get(&c.Archive))
			case "OpenIncidentChannel":
				assert.NoError(t, args.Get(&c.Channel))
			case "InviteToIncidentChannel":
				assert.NoError(t, args.Get(&c.Invite))
			}
			return c
		})
	h.snapshot = func(in contract.IncidentTargetInput) (contract.Snapshot, error) {
		return contract.Snapshot{Target: in.Target, At: t0.UTC(), Config: map[string]string{"JWT_SECRET": "fp-cur"},
			Secret: contract.VersionRef{ID: "v7", Fingerprint: "fp-cur"}, Healthz: "200 ok",
			Controls: contract.ControlState{LogLevel: "info"}, ProbeFrom: []string{incProbeFrom},
			Artifact: contract.ArtifactRef{Path: "var/artifacts/" + in.Incident + "/snapshot-" + in.Target + ".json", Digest: strings.Repeat("ab", 32)}}, nil
	}
	h.confirm = func(in contract.IncidentTargetInput) (contract.ProbeResults, error) {
		return incProbesOK("confirm"), nil
	}
	h.apply = func(in contract.MeasureInput) (contract.MeasureResult, error) {
		res := contract.MeasureResult{Detail: in.Request.Kind + " in force"}
		if in.Request.Kind == contract.ContainLogLevel {
			res.Previous = "info"
		}
		return res, nil
	}
	h.invalidation = func(ctx workflow.Context, in contract.InvalidationInput) (contract.InvalidationResult, error) {
		return contract.InvalidationResult{Target: in.Target, Outcome: contract.OutcomeCompleted,
			Summary: "Emergency invalidation of demo: completed."}, nil
	}
	h.rotation = func(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
		return contract.RotationResult{Target: in.Target, Outcome: contract.OutcomeCompleted, Summary: "Rotation of demo: completed."}, nil
	}
	return h
}

func (h *incHarness) mock() {
	env := h.env
	h.mockPolicyAndAnnounce()
	env.OnActivity(acts.LoadIncidentPolicy, mock.Anything).Return(
		func(context.Context) (contract.IncidentPolicy, error) { return h.ipolicy, nil })
	env.OnActivity(acts.SnapshotTarget, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.IncidentTargetInput) (contract.Snapshot, error) {
			return h.snapshot(in)
		})
	env.OnActivity(acts.ConfirmAuth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.IncidentTargetInput) (contract.ProbeResults, error) {
			return h.confirm(in)
		})
	env.OnActivity(acts.ApplyMeasure, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.MeasureInput) (contract.MeasureResult, error) {
			return h.apply(in)
		})
	env.OnActivity(acts.UndoMeasure, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.MeasureInput) (contract.MeasureResult, error) {
			return contract.MeasureResult{Detail: in.Request.Kind + " gone"}, nil
		})
	env.OnActivity(acts.VerifyIncident, mock.Anything, mock.Anything).Return(
		func(context.Context, contract.IncidentVerifyInput) (contract.ProbeResults, error) {
			return incProbesOK("verify"), nil
		})
	env.OnActivity(acts.WriteReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.ReportInput) ([]contract.ArtifactRef, error) {
			dir := "var/artifacts/" + in.WorkflowID + "/"
			return []contract.ArtifactRef{{Path: dir + "report.md", Digest: "d1"}, {Path: dir + "report.json", Digest: "d2"}}, nil
		})
	env.OnActivity(acts.ArchiveTimeline, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.ArchiveInput) (contract.ArtifactRef, error) {
			return contract.ArtifactRef{Path: fmt.Sprintf("var/artifacts/%s/timeline-%d.json", in.Incident, in.Part),
				Digest: fmt.Sprintf("sha-%d", in.Part), Events: len(in.Events)}, nil
		})
	env.OnActivity(acts.AwaitRun, mock.Anything, mock.Anything).Return(contract.ChildClosed{}, nil).Maybe()
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, args.Get(0).(temporal.SearchAttributes))
	})
}

func (h *incHarness) fakeInvalidation(ctx workflow.Context, in contract.InvalidationInput) (contract.InvalidationResult, error) {
	h.add(incCall{callInfo: callInfo{Name: "EmergencyInvalidation", At: workflow.Now(ctx).Sub(t0)}, Inv: in,
		ChildID: workflow.GetInfo(ctx).WorkflowExecution.ID})
	return h.invalidation(ctx, in)
}

func (h *incHarness) fakeRotation(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
	h.add(incCall{callInfo: callInfo{Name: "SecretRotation", At: workflow.Now(ctx).Sub(t0)}, Rotation: in,
		ChildID: workflow.GetInfo(ctx).WorkflowExecution.ID})
	return h.rotation(ctx, in)
}

// run declares the incident as its reporter would: with the reporter's signed start.
func (h *incHarness) run(in contract.IncidentInput) {
	h.t.Helper()
	if in.Statement == nil && in.State == nil && strings.TrimSpace(in.Reporter) != "" {
		in.Statement = h.signedStart(in.Reporter, contract.ActionStartIncident, in.Summary, in.StartArgs())
	}
	h.runRaw(in)
}

func (h *incHarness) runRaw(in contract.IncidentInput) {
	h.t.Helper()
	h.mock()
	h.execute(AuthIncident, in)
}

// signedArgs is actor's decision name with comment and Args, signed as the starter signs it:
// the comment and the args each in its own field.
func (h *harness[C, R]) signedArgs(name, actor, comment, args string) contract.Decision {
	st := h.statement(name, actor, comment)
	st.ArgsHash = statement.HashArgs(args)
	return contract.Decision{Actor: actor, Comment: comment, Args: args, Statement: signAs(h.t, actor, st)}
}

// argsJSON is a decision's Args: the canonical JSON of v.
func argsJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// containAt has actor ask for req at d; the comment is the request's reason, as the starter sends.
func (h *incHarness) containAt(d time.Duration, actor string, req contract.ContainRequest) *decision {
	args := argsJSON(h.t, req)
	return h.decideWith(d, contract.UpdateContain, func() contract.Decision {
		return h.signedArgs(contract.UpdateContain, actor, req.Reason, args)
	})
}

// childContainAt has actor ask for an invalidate or rotate at d, with the child's signed start
// (for childID, signed with the request's reason), as the starter sends it. The decision is kept
// in *sent for the test to compare.
func (h *incHarness) childContainAt(d time.Duration, actor string, req contract.ContainRequest, childID string, sent *contract.Decision) *decision {
	args := argsJSON(h.t, req)
	action := contract.ActionStartInvalidation
	if req.Kind == contract.ContainRotate {
		action = contract.ActionStartRotation
	}
	return h.decideWith(d, contract.UpdateContain, func() contract.Decision {
		dec := h.signedArgs(contract.UpdateContain, actor, req.Reason, args)
		dec.Start = signAs(h.t, actor, contract.Statement{Namespace: testNamespace, WorkflowID: childID, Action: action,
			Actor: actor, CommentHash: statement.HashComment(req.Reason), ArgsHash: statement.HashArgs(h.childArgs(actor, req)),
			IssuedAt: h.env.Now(), Nonce: newNonce(h.t), Client: "test"})
		if sent != nil {
			*sent = dec
		}
		return dec
	})
}

// childArgs are the StartArgs of the child run req starts, as the starter builds them: with
// the incident's trigger and, when req names none, its only target.
func (h *incHarness) childArgs(asker string, req contract.ContainRequest) string {
	st := h.incStatus()
	if req.Target == "" && len(st.Targets) == 1 {
		req.Target = st.Targets[0]
	}
	if req.Kind == contract.ContainRotate {
		return contract.IncidentRotation(h.id, asker, req).StartArgs()
	}
	return contract.IncidentInvalidation(h.id, st.Trigger, asker, req).StartArgs()
}

// approveAt has actor approve (or reject, by name) the pending action named action ("" for
// none) at d, bound to the action's content as the run shows it then, as the starter sends it.
func (h *incHarness) actionAt(d time.Duration, name, actor, action string) *decision {
	return h.decideWith(d, name, func() contract.Decision {
		args := ""
		if action != "" {
			args = argsJSON(h.t, contract.ActionRef{Action: action, Digest: h.digestOf(action)})
		}
		return h.signedArgs(name, actor, "", args)
	})
}

// digestOf is the digest of the pending action id as the run shows it; "" when there is none.
func (h *incHarness) digestOf(id string) string {
	st := h.incStatus()
	if id == contract.KeepAction && st.Keeping != nil {
		return st.Keeping.Digest()
	}
	for _, pa := range st.Pending {
		if pa.ID == id {
			return pa.Request.Digest()
		}
	}
	return ""
}

// noteAt has actor add a note at d; status makes it a status update.
func (h *incHarness) noteAt(d time.Duration, actor, text string, status bool) *decision {
	args := ""
	if status {
		args = argsJSON(h.t, contract.NoteRequest{Status: true})
	}
	return h.decideWith(d, contract.UpdateNote, func() contract.Decision {
		return h.signedArgs(contract.UpdateNote, actor, text, args)
	})
}

// resolveAt has actor resolve with req at d; the comment is the summary, as the starter sends.
func (h *incHarness) resolveAt(d time.Duration, actor string, req contract.ResolveRequest) *decision {
	args := argsJSON(h.t, req)
	return h.decideWith(d, contract.DecisionResolve, func() contract.Decision {
		return h.signedArgs(contract.DecisionResolve, actor, req.Summary, args)
	})
}

func incResolve() contract.ResolveRequest {
	return contract.ResolveRequest{Summary: "stuffing stopped; range denied; accounts reset",
		FollowUps: []string{"add rate limiting on /auth/token", "review alert thresholds"}}
}

// incStatus answers the incident query.
func (h *incHarness) incStatus() contract.IncidentStatus {
	h.t.Helper()
	var s contract.IncidentStatus
	h.query(contract.QueryIncident, &s)
	return s
}

func (h *incHarness) frozen() []string {
	h.t.Helper()
	var f []string
	h.query(contract.QueryFrozen, &f)
	return f
}

// measures returns the ApplyMeasure (or UndoMeasure) inputs, in order.
func (h *incHarness) measures(name string) []contract.MeasureInput {
	var out []contract.MeasureInput
	for _, c := range h.callsNamed(name) {
		out = append(out, c.Measure)
	}
	return out
}

// eventsOf returns the timeline events with action and outcome.
func eventsOf(tl []contract.Event, action, outcome string) []contract.Event {
	var out []contract.Event
	for _, e := range tl {
		if e.Action == action && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// at0 is d after t0, in UTC, as the timeline records it.
func at0(d time.Duration) time.Time { return t0.Add(d).UTC() }
