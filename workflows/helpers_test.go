package workflows

// Scaffolding shared by the workflow unit tests: the test environment, the recorder of activity
// calls, the harness every runbook test builds on, the target policy, timeline and error helpers.
// Nothing here knows a particular runbook; each *_test.go file adds its own inputs, mocks and
// fixtures on top.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/peer"
	"github.com/authops/authops/internal/statement"
)

// t0 is the virtual start of every run. It is deliberately not in UTC, so the tests notice a
// timeline that forgets to convert.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))

// newTestEnv returns a test workflow environment that starts at t0, logs nothing, bounds each run
// to 72h of workflow time and has wfs registered.
func newTestEnv(wfs ...any) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	// A run that waits where it should have stopped (an escalation keeps waiting for good) ends
	// at this bound instead of hanging the test binary; no test runs longer on the workflow clock.
	env.SetWorkflowRunTimeout(72 * time.Hour)
	for _, wf := range wfs {
		env.RegisterWorkflow(wf)
	}
	env.RegisterWorkflow(ClaimStatement)
	// The seals of messages between runs are the real ones, with a test key: a test that sends a
	// message by hand sends it unsealed (a forgery) or sealed with testPeerKey (peerSeal).
	real := &activities.Peer{Key: testPeerKey}
	env.RegisterActivity(real.SealMessage)
	env.RegisterActivity(real.OpenMessage)
	env.RegisterActivity(real.Sender)
	// The test environment has no server to describe a parent: the parents the tests run are
	// what their ids say (a test of a forged parent mocks DescribeRun).
	env.RegisterActivityWithOptions(func(_ context.Context, in contract.RunRef) (contract.RunFacts, error) {
		f := contract.RunFacts{TaskQueue: contract.TaskQueue, Running: true}
		switch {
		case strings.HasPrefix(in.WorkflowID, "invalidate-"):
			f.Type = contract.WorkflowEmergencyInvalidation
		case strings.HasPrefix(in.WorkflowID, "scheduled-rotation-"):
			target := strings.TrimPrefix(in.WorkflowID, "scheduled-rotation-")
			if i := strings.Index(target, "-"); i > 0 { // the tests' targets have no "-"
				target = target[:i]
			}
			f.Type, f.ScheduledBy = contract.WorkflowScheduledRotation, contract.ScheduleID(target)
		}
		return f, nil
	}, activity.RegisterOptions{Name: "DescribeRun"})
	return env
}

// peerStep names the activities that seal and check messages between runs and ask the server
// who a parent is.
var peerStep = map[string]bool{"SealMessage": true, "OpenMessage": true, "Sender": true, "DescribeRun": true}

// testPeerKey is the workers' peer key in the tests.
var testPeerKey = []byte("0123456789abcdef0123456789abcdef")

// peerSeal is the seal a worker of run from makes for msg (without its seal), sent as kind to to.
func peerSeal(kind, from, to string, msg any) *contract.PeerSeal {
	s := peer.Seal(testPeerKey, contract.PeerSeal{Kind: kind, From: from, FromRun: "run-" + from, To: to,
		Digest: contract.PeerDigest(msg), At: time.Now()})
	return &s
}

// What the test environment reports in workflow.GetInfo, and so what a statement must name
// (TestHarnessRunInfo checks it): the namespace, and an empty first run id.
const (
	testNamespace  = "default-test-namespace"
	testFirstRunID = ""
)

// testKey is one person's ed25519 key: the signer and the authorized_keys line people: lists.
type testKey struct {
	signer ssh.Signer
	line   string
}

// testKeys holds a key for each person of basePolicy, and for mallory, whom no policy lists.
// They are generated once per test binary.
var testKeys = sync.OnceValue(func() map[string]testKey {
	keys := map[string]testKey{}
	for _, name := range []string{"alice", "bob", "carol", "dave", "mallory"} {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			panic(err)
		}
		// With a comment, as a config would list it: keys compare by key, not by text.
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + name + "@laptop"
		keys[name] = testKey{signer: signer, line: line}
	}
	return keys
})

// person is name as people: lists them, with their key.
func person(name string) contract.Person {
	return contract.Person{Name: name, Keys: []string{testKeys()[name].line}}
}

// signAs signs st with the key of keyOwner (a name of testKeys), whoever st names as actor.
func signAs(t *testing.T, keyOwner string, st contract.Statement) *contract.SignedStatement {
	t.Helper()
	k, ok := testKeys()[keyOwner]
	require.True(t, ok, "no test key for %q", keyOwner)
	signed, err := statement.Sign(rand.Reader, k.signer, st)
	require.NoError(t, err)
	return &signed
}

func newNonce(t *testing.T) string {
	t.Helper()
	n, err := statement.NewNonce()
	require.NoError(t, err)
	return n
}

// basePolicy is the demo target's policy as every runbook test starts from: people alice, bob,
// carol and dave with their keys, approvers alice, bob and carol (dave is a person but no
// approver), one approval needed, announcements to channel. A test file sets what only its
// runbook reads.
func basePolicy(channel string) contract.Policy {
	return contract.Policy{
		Target:                   "demo",
		BaseURL:                  "http://demo.invalid",
		Channel:                  channel,
		Approvers:                []string{"alice", "bob", "carol"},
		People:                   []contract.Person{person("alice"), person("bob"), person("carol"), person("dave")},
		ApprovalTimeout:          time.Hour,
		ReminderInterval:         15 * time.Minute,
		EmergencyApprovalTimeout: 10 * time.Minute,
		DeployTimeout:            time.Minute,
	}
}

// callInfo is what the recorder keeps of every activity attempt (or child workflow start). A
// test file embeds it in its own call type to keep the inputs it asserts on.
type callInfo struct {
	Name    string
	Attempt int32
	At      time.Duration    // since t0, on the workflow clock
	Msg     contract.Message // Announce
	Local   bool             // run as a local activity
}

func (c callInfo) info() callInfo { return c }

// String is how steps lists the call; a test file's call type may say more.
func (c callInfo) String() string { return c.Name }

// recordedCall is a call type the recorder can keep: callInfo itself, or a struct embedding it.
type recordedCall interface {
	info() callInfo
	String() string
}

// callLog records calls in the order the run made them. mu also guards whatever other state a
// harness's mocks record.
type callLog[C recordedCall] struct {
	mu    sync.Mutex
	calls []C
}

func (l *callLog[C]) add(c C) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// recorded returns a copy of every call so far.
func (l *callLog[C]) recorded() []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]C(nil), l.calls...)
}

// steps lists the calls in order, without announcements, freeze checks and the emergency run's
// deploy path check (tests look at those with callsNamed), in their String form.
func (l *callLog[C]) steps() []string {
	out := []string{}
	for _, c := range l.recorded() {
		// CheckDeployPath runs beside PrepareCanary, so its place among the steps is not
		// fixed; TestEmergencyInvalidation_ChecksDeployPathWhileWaiting covers it.
		if n := c.info().Name; n != "Announce" && n != "FrozenBy" && n != "CheckDeployPath" {
			out = append(out, c.String())
		}
	}
	return out
}

func (l *callLog[C]) callsNamed(name string) []C {
	var out []C
	for _, c := range l.recorded() {
		if c.info().Name == name {
			out = append(out, c)
		}
	}
	return out
}

// announceKinds lists the kinds of all announcements, in order.
func (l *callLog[C]) announceKinds() []string {
	var out []string
	for _, c := range l.callsNamed("Announce") {
		out = append(out, c.info().Msg.Kind)
	}
	return out
}

// announced returns the Announce calls of one kind.
func (l *callLog[C]) announced(kind string) []C {
	var out []C
	for _, c := range l.callsNamed("Announce") {
		if c.info().Msg.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// messages returns the messages announced with one kind.
func (l *callLog[C]) messages(kind string) []contract.Message {
	var out []contract.Message
	for _, c := range l.announced(kind) {
		out = append(out, c.info().Msg)
	}
	return out
}

// harness runs one workflow in a test environment and records its activity calls as C; R is the
// workflow's result type. A test file embeds *harness in its own, which holds its mocks' knobs.
type harness[C recordedCall, R any] struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	// id is the run's workflow id, which statements name.
	id string
	// child says the run is a child of the workflow the test executes: decisions and queries go
	// to it by id.
	child bool
	// policy is what LoadPolicy answers, for the requested target.
	policy contract.Policy
	callLog[C]
	updates int // numbers update ids; guarded by mu
}

// newHarness wraps env, whose run gets the workflow id id. newCall turns each activity attempt
// into a C, decoding the inputs the test keeps; Announce messages are already decoded into the
// callInfo.
func newHarness[C recordedCall, R any](t *testing.T, env *testsuite.TestWorkflowEnvironment, id string, policy contract.Policy,
	newCall func(callInfo, converter.EncodedValues) C) *harness[C, R] {
	t.Helper()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue})
	h := &harness[C, R]{t: t, env: env, id: id, policy: policy}
	started := func(info *activity.Info, args converter.EncodedValues, local bool) {
		c := callInfo{Name: info.ActivityType.Name, Attempt: info.Attempt, At: env.Now().Sub(t0), Local: local}
		if peerStep[c.Name] {
			// The seals of messages between runs are no steps of a runbook (peer_test.go tests them).
			return
		}
		if c.Name == "Announce" {
			assert.NoError(t, args.Get(&c.Msg))
		}
		h.add(newCall(c, args))
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		started(info, args, false)
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
		started(info, localArgs(args), true)
	})
	return h
}

// localArgs gives a local activity's arguments the shape of an activity's encoded ones.
type localArgs []any

func (a localArgs) HasValues() bool { return len(a) > 0 }

func (a localArgs) Get(ptrs ...any) error {
	dc := converter.GetDefaultDataConverter()
	p, err := dc.ToPayloads(a...)
	if err != nil {
		return err
	}
	return dc.FromPayloads(p, ptrs...)
}

// mockPolicyAndAnnounce mocks the activities every runbook uses: LoadPolicy answers h.policy for
// the requested target, Announce succeeds.
func (h *harness[C, R]) mockPolicyAndAnnounce() {
	h.env.OnActivity(acts.LoadPolicy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, target string) (contract.Policy, error) {
			p := h.policy
			p.Target = target
			return p, nil
		})
	h.env.OnActivity(acts.Announce, mock.Anything, mock.Anything).Return(nil)
	// No incident freezes a target unless a test says so.
	h.env.OnActivity(acts.FrozenBy, mock.Anything, mock.Anything).Return("", nil).Maybe()
}

// execute runs wf with in to its end; mocks and callbacks must be registered before.
func (h *harness[C, R]) execute(wf, in any) {
	h.t.Helper()
	h.env.ExecuteWorkflow(wf, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
}

// at runs fn after d of workflow time since t0 (callbacks must be registered before the run).
func (h *harness[C, R]) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// statement is what actor signs to decide name with comment in this run, now (on the workflow
// clock: call it from a callback of at).
func (h *harness[C, R]) statement(name, actor, comment string) contract.Statement {
	return contract.Statement{
		Namespace: testNamespace, WorkflowID: h.id, FirstRunID: testFirstRunID,
		Action: name, Actor: actor, CommentHash: statement.HashComment(comment),
		IssuedAt: h.env.Now(), Nonce: newNonce(h.t), Client: "test",
	}
}

// signed is actor's decision name, signed with actor's own key now.
func (h *harness[C, R]) signed(name, actor, comment string) contract.Decision {
	return contract.Decision{Actor: actor, Comment: comment, Statement: signAs(h.t, actor, h.statement(name, actor, comment))}
}

// signedStart is the statement actor signs to start this run for reason with the input whose
// StartArgs are args; action is contract.ActionStartRotation or contract.ActionStartInvalidation
// (with BreakGlassSuffix). A start has no first run id yet, and is issued at t0.
func (h *harness[C, R]) signedStart(actor, action, reason, args string) *contract.SignedStatement {
	return signAs(h.t, actor, contract.Statement{
		Namespace: testNamespace, WorkflowID: h.id, Action: action, Actor: actor,
		CommentHash: statement.HashComment(reason), ArgsHash: statement.HashArgs(args), IssuedAt: t0,
		Nonce: newNonce(h.t), Client: "test",
	})
}

// decision is what became of one decision sent as an Update.
type decision struct {
	name, updateID string
	sent           bool
	// accepted by the validator, or rejected by it (the handler never ran);
	accepted bool
	rejected error
	// completed: the handler answered ev, or err.
	completed bool
	ev        contract.Event
	err       error
}

// send sends d as the Update name now and has its outcome filled into out as it comes.
func (h *harness[C, R]) send(out *decision, name string, d contract.Decision) {
	h.mu.Lock()
	h.updates++
	*out = decision{name: name, updateID: fmt.Sprintf("%s-%d", name, h.updates), sent: true}
	h.mu.Unlock()
	uc := &testsuite.TestUpdateCallback{
		OnAccept: func() { out.accepted = true },
		OnReject: func(err error) { out.rejected = err },
		OnComplete: func(v any, err error) {
			out.completed, out.err = true, err
			switch v := v.(type) {
			case contract.Event:
				out.ev = v
			case converter.EncodedValue:
				assert.NoError(h.t, v.Get(&out.ev))
			}
		},
	}
	if h.child {
		assert.NoError(h.t, h.env.UpdateWorkflowByID(h.id, name, out.updateID, uc, d))
		return
	}
	h.env.UpdateWorkflow(name, out.updateID, uc, d)
}

// decideAt has actor decide name with comment at d, signed with their own key.
func (h *harness[C, R]) decideAt(d time.Duration, name, actor, comment string) *decision {
	return h.decideWith(d, name, func() contract.Decision { return h.signed(name, actor, comment) })
}

// decideWith sends the decision that build makes at d (so it may sign for that moment).
func (h *harness[C, R]) decideWith(d time.Duration, name string, build func() contract.Decision) *decision {
	out := &decision{name: name}
	h.at(d, func() { h.send(out, name, build()) })
	return out
}

// signalAt sends actor's signed decision name as a signal at d: the sender gets no answer, but
// the run judges it as it judges an Update.
func (h *harness[C, R]) signalAt(d time.Duration, name, actor, comment string) {
	h.at(d, func() { h.env.SignalWorkflow(name, h.signed(name, actor, comment)) })
}

// requireAccepted asserts the decision was taken and returns the run's answer, a timeline event.
func (d *decision) requireAccepted(t *testing.T) contract.Event {
	t.Helper()
	require.True(t, d.sent, "%s was never sent", d.name)
	require.NoError(t, d.rejected, "%s rejected by the validator", d.name)
	require.True(t, d.accepted, "%s not accepted by the validator", d.name)
	require.True(t, d.completed, "%s got no answer", d.name)
	require.NoError(t, d.err, "%s denied", d.name)
	assert.Equal(t, "accepted", d.ev.Outcome)
	assert.Equal(t, d.name, d.ev.Action)
	assert.True(t, d.ev.Verified, "an accepted decision is verified")
	assert.Equal(t, "update", d.ev.Via)
	assert.Equal(t, d.updateID, d.ev.UpdateID)
	return d.ev
}

// requireDenied asserts the run refused the decision with a DecisionDenied error whose reason,
// and the refusal event in its details, contain why; it returns that event.
func (d *decision) requireDenied(t *testing.T, why string) contract.Event {
	t.Helper()
	require.True(t, d.sent, "%s was never sent", d.name)
	require.NoError(t, d.rejected, "%s rejected by the validator instead of being judged and recorded", d.name)
	require.True(t, d.completed, "%s got no answer", d.name)
	require.Error(t, d.err, "%s was accepted: %+v", d.name, d.ev)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(d.err, &appErr), "want an ApplicationError, got %T %v", d.err, d.err)
	assert.Equal(t, contract.ErrTypeDecisionDenied, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), why)
	require.True(t, appErr.HasDetails(), "the refusal carries its timeline event")
	var ev contract.Event
	require.NoError(t, appErr.Details(&ev))
	assert.Equal(t, "denied", ev.Outcome)
	assert.Equal(t, d.name, ev.Action)
	assert.Contains(t, ev.Detail, why)
	assert.Equal(t, "update", ev.Via)
	assert.Equal(t, d.updateID, ev.UpdateID)
	return ev
}

// requireRecorded asserts that ev, as a decision's answer carried it, is on the timeline tl.
func requireRecorded(t *testing.T, tl []contract.Event, ev contract.Event) {
	t.Helper()
	require.Contains(t, tl, ev, "not on the timeline:\n%s", dumpTimeline(tl))
}

func (h *harness[C, R]) status() contract.Status {
	h.t.Helper()
	var s contract.Status
	h.query(contract.QueryStatus, &s)
	return s
}

func (h *harness[C, R]) timeline() []contract.Event {
	h.t.Helper()
	var tl []contract.Event
	h.query(contract.QueryTimeline, &tl)
	return tl
}

// query decodes the run's answer to the query name into out.
func (h *harness[C, R]) query(name string, out any) {
	h.t.Helper()
	var v converter.EncodedValue
	var err error
	if h.child {
		v, err = h.env.QueryWorkflowByID(h.id, name)
	} else {
		v, err = h.env.QueryWorkflow(name)
	}
	require.NoError(h.t, err)
	require.NoError(h.t, v.Get(out))
}

// completed returns the result of a run that must have ended without error.
func (h *harness[C, R]) completed() R {
	h.t.Helper()
	require.NoError(h.t, h.env.GetWorkflowError())
	var res R
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// runbookFailed returns the result carried by the RunbookFailed error the run must have ended with.
func (h *harness[C, R]) runbookFailed() R {
	h.t.Helper()
	appErr := requireAppError(h.t, h.env.GetWorkflowError())
	require.Equal(h.t, contract.ErrTypeRunbookFailed, appErr.Type())
	require.True(h.t, appErr.NonRetryable())
	require.True(h.t, appErr.HasDetails())
	var res R
	require.NoError(h.t, appErr.Details(&res))
	return res
}

// assertNotRun asserts that none of names was recorded.
func (h *harness[C, R]) assertNotRun(names ...string) {
	h.t.Helper()
	for _, n := range names {
		assert.Empty(h.t, h.callsNamed(n), "%s must not run", n)
	}
}

// requireAppError returns err as the ApplicationError it must be.
func requireAppError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %v", err)
	return appErr
}

// assertValidateErr checks the error of an input's Validate: none when wantErr is empty, else an
// error containing every string of wantErr.
func assertValidateErr(t *testing.T, err error, wantErr []string) {
	t.Helper()
	if len(wantErr) == 0 {
		assert.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range wantErr {
		assert.Contains(t, err.Error(), w)
	}
}

// checklist maps each checklist item of s to its state.
func checklist(s contract.Status) map[string]string {
	m := map[string]string{}
	for _, st := range s.Checklist {
		m[st.Name] = st.State
	}
	return m
}

// findEvent finds the first timeline event with actor, action and outcome.
func findEvent(tl []contract.Event, actor, action, outcome string) (contract.Event, bool) {
	for _, e := range tl {
		if e.Actor == actor && e.Action == action && e.Outcome == outcome {
			return e, true
		}
	}
	return contract.Event{}, false
}

func hasEvent(tl []contract.Event, actor, action, outcome string) bool {
	_, ok := findEvent(tl, actor, action, outcome)
	return ok
}

// requireEvent returns the first timeline event with actor, action and outcome, which must exist.
func requireEvent(t *testing.T, tl []contract.Event, actor, action, outcome string) contract.Event {
	t.Helper()
	e, ok := findEvent(tl, actor, action, outcome)
	require.True(t, ok, "no timeline event %s/%s/%s in:\n%s", actor, action, outcome, dumpTimeline(tl))
	return e
}

func dumpTimeline(tl []contract.Event) string {
	var b strings.Builder
	for _, e := range tl {
		fmt.Fprintf(&b, "  %s %-8s %-50q %-20q %s\n", e.At.Format(time.RFC3339Nano), e.Actor, e.Action, e.Outcome, e.Detail)
	}
	return b.String()
}

// assertUTC asserts a non-empty timeline whose events are all in UTC and not before t0.
func assertUTC(t *testing.T, tl []contract.Event) {
	t.Helper()
	require.NotEmpty(t, tl)
	for _, e := range tl {
		assert.Equal(t, time.UTC, e.At.Location(), "event %s/%s not in UTC", e.Actor, e.Action)
		assert.False(t, e.At.Before(t0), "event %s/%s before the start", e.Actor, e.Action)
	}
}

// concat joins step lists.
func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
