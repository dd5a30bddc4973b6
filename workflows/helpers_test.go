package workflows

// Scaffolding shared by the workflow unit tests: the test environment, the recorder of activity
// calls, the harness every runbook test builds on, the target policy, timeline and error helpers.
// Nothing here knows a particular runbook; each *_test.go file adds its own inputs, mocks and
// fixtures on top.

import (
	"github.com/authops/authops/contract"

	"context"
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
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/authops/authops/internal/notify"
)

// t0 is the virtual start of every run. It is deliberately not in UTC, so the tests notice a
// timeline that forgets to convert.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))

// newTestEnv returns a test workflow environment that starts at t0, logs nothing and has wfs
// registered.
func newTestEnv(wfs ...any) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	for _, wf := range wfs {
		env.RegisterWorkflow(wf)
	}
	return env
}

// basePolicy is the demo target's policy as every runbook test starts from: approvers alice and
// bob, announcements to channel. A test file sets what only its runbook reads.
func basePolicy(channel string) contract.Policy {
	return contract.Policy{
		Target:                   "demo",
		BaseURL:                  "http://demo.invalid",
		Channel:                  channel,
		Approvers:                []string{"alice", "bob"},
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
	At      time.Duration  // since t0, on the workflow clock
	Msg     notify.Message // Announce
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

// steps lists the calls in order, without announcements, in their String form.
func (l *callLog[C]) steps() []string {
	out := []string{}
	for _, c := range l.recorded() {
		if c.info().Name != "Announce" {
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
func (l *callLog[C]) messages(kind string) []notify.Message {
	var out []notify.Message
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
	// policy is what LoadPolicy answers, for the requested target.
	policy contract.Policy
	callLog[C]
}

// newHarness wraps env. newCall turns each activity attempt into a C, decoding the inputs the
// test keeps; Announce messages are already decoded into the callInfo.
func newHarness[C recordedCall, R any](t *testing.T, env *testsuite.TestWorkflowEnvironment, policy contract.Policy,
	newCall func(callInfo, converter.EncodedValues) C) *harness[C, R] {
	t.Helper()
	h := &harness[C, R]{t: t, env: env, policy: policy}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		c := callInfo{Name: info.ActivityType.Name, Attempt: info.Attempt, At: env.Now().Sub(t0)}
		if c.Name == "Announce" {
			assert.NoError(t, args.Get(&c.Msg))
		}
		h.add(newCall(c, args))
	})
	return h
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
}

// execute runs wf with in to its end; mocks and callbacks must be registered before.
func (h *harness[C, R]) execute(wf, in any) {
	h.t.Helper()
	h.env.ExecuteWorkflow(wf, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
}

// at runs fn after d of workflow time since t0 (callbacks must be registered before the run).
func (h *harness[C, R]) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// signalAt sends the contract.Decision signal name from actor after d.
func (h *harness[C, R]) signalAt(d time.Duration, name, actor, comment string) {
	h.at(d, func() { h.env.SignalWorkflow(name, contract.Decision{Actor: actor, Comment: comment}) })
}

func (h *harness[C, R]) status() contract.Status {
	h.t.Helper()
	return queryWorkflow[contract.Status](h.t, h.env, contract.QueryStatus)
}

func (h *harness[C, R]) timeline() []contract.Event {
	h.t.Helper()
	return queryWorkflow[[]contract.Event](h.t, h.env, contract.QueryTimeline)
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

// queryWorkflow answers the query name, decoded as T.
func queryWorkflow[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment, name string) T {
	t.Helper()
	v, err := env.QueryWorkflow(name)
	require.NoError(t, err)
	var out T
	require.NoError(t, v.Get(&out))
	return out
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
