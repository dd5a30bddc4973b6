package e2e

// Issues 8 and 9, the incident runbook under faults: the worker process dies (SIGKILL) at each
// containment step of an auth incident in turn, or the Temporal server dies while measures are in
// force, and the incident must still end right: resolved, each measure applied once, the
// temporary ones undone once, the freeze lifted, the report naming every actor, the checklist
// complete, and no secret in any history, artifact or log.
//
// The incident's activities run with the timeouts of the config's timeouts: section, which the
// test stack sets to seconds (activity 5 s; checks keep 2 min). A kill inside an activity costs
// that timeout before the new worker retries it. The kill points
// are chosen where the run waits for people (no activity in flight), except mid-resolve: every
// moment of a resolve has an activity in flight, so that case kills inside an UndoMeasure (timeouts.activity)
// and never inside the final verification (timeouts.check).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// incidentDeny is the range the incidents deny: a client bound to 127.0.0.2 is refused, the
// worker's probes (from 127.0.0.1) are not.
const incidentDeny = "127.0.0.2/32"

// incidentStage is a point of the incident scenario where a fault can strike.
type incidentStage int

const (
	stageDeclared incidentStage = iota + 1
	stageDenied
	stageAwaitingApproval
	stageResolving
)

// incidentKill is one kill point of the incident.
type incidentKill struct {
	// point completes "worker SIGKILL <point>".
	point string
	// slug names the incident: incident-fault-<slug>.
	slug string
	at   incidentStage
	opts testenv.Options
	// reached says the run is at the point: the worker is killed as soon as it returns true.
	reached func(t *testing.T, env *testenv.Env, id string) bool
	// whileDown: the next decision is sent while no worker runs, and the new worker starts only
	// once the server holds it.
	whileDown bool
	// retried: the kill lands inside an activity, which the new worker must run again.
	retried bool
	// server: the Temporal server is killed instead (and restarted on the same database); the
	// worker keeps running.
	server bool
	// before runs at the stage, before the run is watched for the point.
	before func(r *incidentRun)
	// hold, when set, is the request to the backend ("METHOD /path") that the proxy holds from
	// the stage's own step on, until the worker is dead (testenv.Env.HoldNext).
	hold string
}

// TestFaultIncidentWorkerKilledAfterDeclaration: the worker dies right after the runbook's first
// 15 minutes (declare, freeze, snapshot, confirm, timeline) are done, while the incident waits for
// its owner. Killing between the freeze and the confirmation would land inside SnapshotTarget or
// ConfirmAuth, which run for milliseconds under a 2 min start-to-close: the run would wait 2 min.
func TestFaultIncidentWorkerKilledAfterDeclaration(t *testing.T) {
	runIncidentKill(t, incidentKill{
		point: "after an incident's declaration (first-15-minutes steps done, waiting for its owner)",
		slug:  "declared",
		at:    stageDeclared,
		reached: func(t *testing.T, env *testenv.Env, id string) bool {
			st, ok := incidentStatus(env, id)
			return ok && st.Phase == "contain" && incidentStep(st, contract.StepTimeline) == contract.StateDone
		},
	})
}

// TestFaultIncidentWorkerKilledAfterDeny: the worker dies after a deny-cidr was applied and
// before the next decision.
func TestFaultIncidentWorkerKilledAfterDeny(t *testing.T) {
	runIncidentKill(t, incidentKill{
		point: "after an incident's deny-cidr was applied (before the next decision)",
		slug:  "denied",
		at:    stageDenied,
		reached: func(t *testing.T, env *testenv.Env, id string) bool {
			st, ok := incidentStatus(env, id)
			return ok && slices.ContainsFunc(st.Measures, func(m contract.Measure) bool { return m.ActionID == "a1" })
		},
	})
}

// TestFaultIncidentWorkerKilledAwaitingApproval: the worker dies while a logout-all waits for its
// approver; the approval is sent while no worker runs, and completes once a new one is up.
func TestFaultIncidentWorkerKilledAwaitingApproval(t *testing.T) {
	runIncidentKill(t, incidentKill{
		point: "while an incident's logout-all waits for approval (the approval sent while no worker runs)",
		slug:  "awaiting-approval",
		at:    stageAwaitingApproval,
		reached: func(t *testing.T, env *testenv.Env, id string) bool {
			st, ok := incidentStatus(env, id)
			return ok && slices.ContainsFunc(st.Pending, func(p contract.PendingAction) bool { return p.ID == "a3" && p.State == "pending" })
		},
		whileDown: true,
	})
}

// TestFaultIncidentWorkerKilledMidResolve: the worker dies in the middle of the resolve, after
// the deny (a1) was undone and while the log level (a2) is being restored. The proxy in front of
// the backend holds that control call, so the kill lands inside that UndoMeasure (timeouts.activity
// start-to-close) on any machine, and the new worker runs it again.
func TestFaultIncidentWorkerKilledMidResolve(t *testing.T) {
	runIncidentKill(t, incidentKill{
		point: "in the middle of an incident's resolve (a1 undone, a2's undo in flight)",
		slug:  "mid-resolve",
		at:    stageResolving,
		opts:  testenv.Options{ProxyHold: true},
		hold:  "PUT /_control/log-level",
		reached: func(t *testing.T, env *testenv.Env, id string) bool {
			return env.Held() && countEvents(timelineOf(t, env, id), "authops", "undo a1", "undone") == 1 &&
				activityStarted(t, env, id, "UndoMeasure")
		},
		retried: true,
	})
}

// TestFaultIncidentServerKilled: the Temporal server is killed (SIGKILL) while the deny (a1) and
// the log level (a2) are in force and a logout-all (a3) waits for approval, and restarted on the
// same database. Before that, notes push the incident past its history limit (50 events here):
// it continued as new and archived the older part of its timeline to the artifacts directory.
// The incident goes on: the carried approval gate takes carol's approval, and resolve undoes the
// measures applied in the earlier run.
func TestFaultIncidentServerKilled(t *testing.T) {
	runIncidentKill(t, incidentKill{
		point:  "Temporal server SIGKILL mid-incident (deny and log level in force, logout-all awaiting approval, after a continue-as-new that archived part of the timeline), restarted on the same database",
		slug:   "server-killed",
		at:     stageAwaitingApproval,
		opts:   testenv.Options{ExtraYAML: "incident:\n  history_limit: 50\n"},
		server: true,
		before: notesUntilArchived,
		reached: func(t *testing.T, env *testenv.Env, id string) bool {
			st, ok := incidentStatus(env, id)
			return ok && slices.ContainsFunc(st.Pending, func(p contract.PendingAction) bool { return p.ID == "a3" && p.State == "pending" }) &&
				len(archivedParts(t, env, id)) > 0
		},
	})
}

// notesUntilArchived has carol add scribe notes until the incident archived a timeline part.
func notesUntilArchived(r *incidentRun) {
	r.t.Helper()
	for n := 1; len(archivedParts(r.t, r.env, r.id)) == 0; n++ {
		require.LessOrEqual(r.t, n, 80, "no timeline part archived after %d notes", n-1)
		r.starter("incident", "note", r.id, fmt.Sprintf("scribe note %d: still seeing failures from 127.0.0.2", n), "--as", "carol")
	}
	// The gate of the pending logout-all is carried across the continue-as-new.
	waitIncident(r.t, r.env, r.id, func(s contract.IncidentStatus) bool {
		return slices.ContainsFunc(s.Pending, func(p contract.PendingAction) bool { return p.ID == "a3" && p.State == "pending" })
	})
}

// archivedParts lists the incident's archived timeline parts on disk.
func archivedParts(t *testing.T, env *testenv.Env, id string) []string {
	m, err := filepath.Glob(filepath.Join(env.Config.ArtifactsDir(), id, "timeline-part-*.json"))
	require.NoError(t, err)
	return m
}

// fullTimeline is the incident's whole timeline: the archived parts the report names, then the
// events the last run carried and added.
func fullTimeline(t *testing.T, rep contract.Report) []contract.Event {
	t.Helper()
	var evs []contract.Event
	for _, a := range rep.Archived {
		var part struct {
			Events []contract.Event `json:"events"`
		}
		require.NoError(t, json.Unmarshal(mustRead(t, a.Path), &part), a.Path)
		require.Len(t, part.Events, a.Events, a.Path)
		evs = append(evs, part.Events...)
	}
	return append(evs, rep.Timeline...)
}

// incidentRun drives one incident through bin/starter, as an operator would.
type incidentRun struct {
	t   *testing.T
	env *testenv.Env
	id  string
	ctl controls.Client
	// levelBefore is the backend's log level before the incident.
	levelBefore string
	// before is a demo user's session from before the logout-all, after one from after it.
	demo          *user
	before, after session
}

func newIncidentRun(t *testing.T, env *testenv.Env, id string) *incidentRun {
	r := &incidentRun{t: t, env: env, id: id, ctl: controls.Client{BaseURL: env.BackendURL, Token: env.AdminToken(t)}}
	st := r.state()
	r.levelBefore = st.LogLevel
	require.NotEqual(t, "debug", r.levelBefore, "the scenario sets debug and expects another level back")
	require.NotContains(t, st.DeniedCIDRs, incidentDeny)
	r.demo = newUser(t, env, demoenv.UserDemo)
	return r
}

func (r *incidentRun) starter(args ...string) string {
	r.t.Helper()
	start := time.Now()
	out, err := r.env.Starter(r.t, args...)
	if d := time.Since(start); d > 2*time.Second {
		r.t.Logf("starter %s took %s", strings.Join(args[:min(len(args), 3)], " "), d.Round(100*time.Millisecond))
	}
	require.NoError(r.t, err, out)
	return out
}

func (r *incidentRun) state() controls.State {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := r.ctl.State(ctx)
	require.NoError(r.t, err)
	return st
}

func (r *incidentRun) declare() {
	r.t.Helper()
	out := r.starter("incident", "declare", "--id", r.id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures x40 from 127.0.0.2", "--reporter", "alice")
	require.Contains(r.t, out, r.id)
}

// containFirst takes ownership (bob), denies the range (a1) and checks the backend refuses it.
func (r *incidentRun) containFirst() {
	r.t.Helper()
	waitIncident(r.t, r.env, r.id, func(s contract.IncidentStatus) bool { return s.Phase == "contain" })
	r.starter("incident", "owner", r.id, "--as", "bob")
	out := r.starter("incident", "contain", r.id, "--as", "bob", "deny-cidr", incidentDeny)
	require.Contains(r.t, out, "a1")
	require.Contains(r.t, r.state().DeniedCIDRs, incidentDeny)
	require.Equal(r.t, 403, loginFrom(r.t, r.env, "127.0.0.2", r.demo), "the denied range is refused")
}

// containMore raises the log level (a2) and asks for a logout-all (a3), which waits for approval.
func (r *incidentRun) containMore() {
	r.t.Helper()
	out := r.starter("incident", "contain", r.id, "--as", "bob", "log-level", "debug")
	require.Contains(r.t, out, "a2")
	require.Equal(r.t, "debug", r.state().LogLevel)
	r.before = r.demo.login(r.t)
	out = r.starter("incident", "contain", r.id, "--as", "bob", "logout-all")
	require.Contains(r.t, out, "a3")
	require.Equal(r.t, 200, r.demo.me(r.t, r.before.Access), "nothing changes before the approval")
}

// approved checks the logout-all took effect and logs in again: a logout-all applied a second
// time (a retried activity, a replay gone wrong) would revoke the new session too.
func (r *incidentRun) approved(out string) {
	r.t.Helper()
	require.Contains(r.t, out, "approve accepted by carol")
	require.Equal(r.t, 401, r.demo.me(r.t, r.before.Access), "the logout-all revoked the session from before")
	r.after = r.demo.login(r.t)
}

func (r *incidentRun) resolve() {
	r.t.Helper()
	r.starter("incident", "resolve", r.id, "--as", "bob", "--summary", "stuffing from one host; blocked and logged out",
		"--follow-up", "rate-limit /auth/token")
}

// checkResolved checks what must hold after a resolved incident, whatever the fault, and returns
// what it checked.
func (r *incidentRun) checkResolved(rep contract.Report) []string {
	t, env, id := r.t, r.env, r.id
	require.Equal(t, contract.OutcomeResolved, rep.Outcome, rep.Summary)
	checked := []string{"outcome resolved"}

	// The record: each decision once, each measure once, each undo once.
	evs := fullTimeline(t, rep)
	for n, want := range map[string]string{"a1": "deny-cidr", "a2": "log-level", "a3": "logout-all"} {
		c := 0
		for _, e := range evs {
			if e.Action == contract.UpdateContain && e.Outcome == "accepted" && strings.HasPrefix(e.Detail, n+" "+want) {
				require.Equal(t, "bob", e.Actor)
				require.True(t, e.Verified, "%+v", e)
				c++
			}
		}
		require.Equal(t, 1, c, "one accepted contain for %s (%s): %+v", n, want, evs)
	}
	require.Equal(t, 3, countEvents(evs, "bob", contract.UpdateContain, "accepted"), "three contain decisions")
	require.Equal(t, 1, countEvents(evs, "carol", contract.DecisionApprove, "accepted"), "one approval")
	require.Equal(t, 1, countEvents(evs, "bob", contract.UpdateOwner, "accepted"), "one change of owner")
	require.Equal(t, 1, countEvents(evs, "bob", contract.DecisionResolve, "accepted"), "one resolve")
	for _, a := range []string{"undo a1", "undo a2"} {
		require.Equal(t, 1, countEvents(evs, "authops", a, "undone"), "%s undone once: %+v", a, evs)
	}
	for _, e := range evs {
		require.False(t, strings.HasPrefix(e.Action, "undo ") && e.Outcome != "undone", "no undo failed or repeated: %+v", e)
		require.NotEqual(t, "undo a3", e.Action, "a logout-all has no undo")
		require.NotEqual(t, contract.StateFailed, e.Outcome, "nothing failed: %+v", e)
	}
	checked = append(checked, "timeline: one accepted contain per action (a1 deny, a2 log level, a3 logout-all), one approval, one undo each of a1 and a2, nothing failed")

	st, ok := incidentStatus(env, id)
	require.True(t, ok, "the closed incident answers its status query")
	require.Equal(t, contract.OutcomeResolved, st.Outcome)
	var ids []string
	for _, m := range st.Measures {
		ids = append(ids, m.ActionID)
		if m.Request.Undoable() {
			require.False(t, m.Undone.IsZero(), "%s undone", m.ActionID)
		}
	}
	require.Equal(t, []string{"a1", "a2", "a3"}, ids, "one measure per action")
	require.Empty(t, st.Frozen, "nothing frozen")

	// The backend: the deny gone, the log level back, the logout-all applied once.
	cs := r.state()
	require.NotContains(t, cs.DeniedCIDRs, incidentDeny, "the deny is gone")
	require.Equal(t, r.levelBefore, cs.LogLevel, "the log level is restored")
	require.NotNil(t, cs.RevokedBefore, "the logout-all was applied")
	require.Equal(t, 200, loginFrom(t, env, "127.0.0.2", newUser(t, env, demoenv.UserProbe)), "the range is served again")
	require.Equal(t, 200, r.demo.me(t, r.after.Access), "a session from after the logout-all still works: it was applied once")
	blog := env.BackendLog.String()
	require.Equal(t, 1, strings.Count(blog, `"action":"cidrs_deny"`), "the deny applied once")
	require.Equal(t, 1, strings.Count(blog, `"action":"cidrs_allow"`), "the deny lifted once")
	require.Equal(t, 1, strings.Count(blog, `"action":"sessions_revoke"`), "the logout-all applied once")
	require.Equal(t, 1, strings.Count(blog, fmt.Sprintf(`"action":"log_level","previous":%q,"level":"debug"`, r.levelBefore)), "the log level raised once")
	checked = append(checked, "backend control state: deny gone, log level restored, logout-all applied; backend log: deny, lift and logout-all once each",
		"range served again; session from after the logout-all still 200")

	// The freeze lifts (the freeze list is read from visibility, which may lag a moment).
	var out string
	require.Eventually(t, func() bool {
		o, err := env.Starter(t, "freeze", "status")
		out = o
		return err == nil && !strings.Contains(o, id)
	}, 2*time.Minute, 100*time.Millisecond, "freeze status still lists %s: %s", id, out)
	checked = append(checked, "freeze lifted (starter freeze status)")

	// The report lists every action with its actor: the one the run returned and the one it wrote.
	require.Len(t, rep.Artifacts, 2)
	md, js := mustRead(t, rep.Artifacts[0].Path), mustRead(t, rep.Artifacts[1].Path)
	var written contract.Report
	require.NoError(t, json.Unmarshal(js, &written))
	want := incidentActions(evs)
	for _, a := range []string{"start", contract.UpdateOwner, contract.UpdateContain, contract.DecisionApprove, contract.DecisionResolve, "undo a1", "undo a2"} {
		requireAction(t, contract.Report{Actions: want}, a)
	}
	for _, doc := range []contract.Report{rep, written} {
		for _, w := range want {
			require.True(t, slices.ContainsFunc(doc.Actions, func(a contract.ReportAction) bool {
				return a.At.Equal(w.At) && a.Actor == w.Actor && a.Action == w.Action
			}), "the report lists %s by %s (%s), archived parts included: %+v", w.Action, w.Actor, w.Detail, doc.Actions)
		}
		for _, a := range doc.Actions {
			require.NotEmpty(t, a.Actor, "every action has its actor: %+v", a)
		}
	}
	checked = append(checked, "report (returned, report.md, report.json) lists every action with its actor, archived timeline parts included")
	for _, who := range []string{"alice", "bob", "carol"} {
		require.Contains(t, string(md), who)
	}
	if len(rep.Archived) > 0 {
		require.Len(t, written.Timeline, len(evs)-2, "report.json holds the whole timeline, archived parts included, up to its own writing")
		checked = append(checked, fmt.Sprintf("continued as new: %d timeline parts archived, report.json holds the whole timeline", len(rep.Archived)))
	}

	checkIncidentTimelineComplete(t, st, evs)
	checked = append(checked, "timeline complete: every checklist step done, none done twice, one closed event")
	return checked
}

// checkIncidentTimelineComplete: one "closed" event with the outcome, every checklist step done
// or skipped and recorded done at most once, none left running.
func checkIncidentTimelineComplete(t *testing.T, st contract.IncidentStatus, evs []contract.Event) {
	t.Helper()
	require.Equal(t, 1, countEvents(evs, "authops", "closed", contract.OutcomeResolved), "exactly one closed event: %+v", evs)
	names := []string{contract.StepDeclare, contract.StepFreeze, contract.StepSnapshot, contract.StepConfirm,
		contract.StepTimeline, contract.StepContain, contract.StepVerify, contract.StepResolve}
	require.Len(t, st.Checklist, len(names))
	for n, s := range st.Checklist {
		require.Equal(t, names[n], s.Name)
		require.Equal(t, contract.StateDone, s.State, "step %q", s.Name)
		done := 0
		for _, e := range evs {
			if e.Action == s.Name && e.Outcome == contract.StateDone {
				done++
			}
		}
		// verify may be done more than once (each verification round); the others once.
		if s.Name != contract.StepVerify {
			require.Equal(t, 1, done, "step %q recorded done once", s.Name)
		} else {
			require.GreaterOrEqual(t, done, 1)
		}
	}
}

// runIncidentKill walks an incident with a bin/worker process: declare, owner, deny a range (a1),
// raise the log level (a2), ask for a logout-all (a3), carol approves, resolve. It kills the
// worker at the case's point, starts a new one, and checks how the incident ends.
func runIncidentKill(t *testing.T, k incidentKill) {
	started := time.Now()
	o := k.opts
	o.NoWorker = true
	env := startStack(t, o)
	w := env.StartWorkerProcess(t)
	r := newIncidentRun(t, env, "incident-fault-"+k.slug)
	var restarted time.Time
	// arm sets the hold before the step of stage s starts.
	arm := func(s incidentStage) {
		if k.at == s && k.hold != "" {
			env.HoldNext(t, k.hold)
		}
	}
	kill := func(s incidentStage) {
		if k.at != s {
			return
		}
		if k.before != nil {
			k.before(r)
		}
		if k.server {
			require.Eventually(t, func() bool { return k.reached(t, env, r.id) }, time.Minute, 25*time.Millisecond, "run never got %s", k.point)
			env.KillServer(t)
			restarted = time.Now()
			t.Logf("server killed and restarted %s", k.point)
			return
		}
		killAt(t, env, r.id, w, k.point, func() bool { return k.reached(t, env, r.id) })
		env.ReleaseHeld()
		if !k.whileDown {
			w = env.StartWorkerProcess(t)
			restarted = time.Now()
		}
	}

	r.declare()
	kill(stageDeclared)
	r.containFirst()
	kill(stageDenied)
	r.containMore()
	kill(stageAwaitingApproval)
	if k.whileDown {
		r.approved(approveWhileDown(t, r, func() { w = env.StartWorkerProcess(t); restarted = time.Now() }))
	} else {
		r.approved(r.starter("approve", r.id, "--action", "a3", "--as", "carol"))
	}
	arm(stageResolving)
	r.resolve()
	kill(stageResolving)

	rep := waitResult[contract.Report](t, env, r.id)
	t.Logf("resolved %s after the restart", time.Since(restarted).Round(100*time.Millisecond))
	checked := r.checkResolved(rep)
	if k.whileDown {
		checked = append(checked, "approval sent while no worker ran completed once the new worker was up")
	}
	if !k.server {
		// The server case continued as new; its measures were applied in earlier runs, which the
		// backend's log covers.
		attempts := activityAttempts(t, env, r.id)
		retried := map[string]int32{}
		for name, n := range attempts {
			if n > 1 && (strings.HasPrefix(name, "ApplyMeasure ") || strings.HasPrefix(name, "UndoMeasure ")) {
				retried[name] = n
			}
		}
		if k.retried {
			require.Equal(t, map[string]int32{"UndoMeasure a2": 2}, retried, "only the killed undo ran again, once: %v", attempts)
			checked = append(checked, "the killed UndoMeasure of a2 ran again on the new worker (attempt 2, after its start-to-close timeout, timeouts.activity); every other measure and undo ran once")
		} else {
			require.Empty(t, retried, "no measure or undo ran twice: %v", attempts)
			checked = append(checked, "each ApplyMeasure and UndoMeasure ran once (no retry)")
		}
	}
	checked = append(checked, scanIncident(t, env, r.id, rep, r.before, r.after)...)
	env.CheckReplay(t, r.id, "", "incident-fault-"+k.slug)
	checked = append(checked, "history replays")
	fault := "worker SIGKILL " + k.point
	if k.server {
		fault = k.point
	}
	reportFault(t, fault, rep.Outcome, checked...)
	t.Logf("%s: %s in %s", k.point, rep.Outcome, time.Since(started).Round(100*time.Millisecond))
}

// approveWhileDown sends carol's approval of a3 while no worker runs, waits until the server
// holds the Update (the run has a workflow task no worker took), then starts the worker with
// start and returns the starter's answer.
func approveWhileDown(t *testing.T, r *incidentRun, start func()) string {
	t.Helper()
	type answer struct {
		out string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := r.env.Starter(t, "approve", r.id, "--action", "a3", "--as", "carol")
		done <- answer{out, err}
	}()
	require.Eventually(t, func() bool {
		d, err := r.env.Client.DescribeWorkflow(context.Background(), r.id, "")
		return err == nil && d.RawResponse.GetPendingWorkflowTask() != nil
	}, 2*time.Minute, 20*time.Millisecond, "the approval reaches the server while no worker runs")
	select {
	case a := <-done:
		t.Fatalf("the approval was answered while no worker ran: %v\n%s", a.err, a.out)
	default:
	}
	start()
	a := <-done
	require.NoError(t, a.err, a.out)
	return a.out
}

// scanIncident runs the counted leak scan over every history of the namespace, the incident's
// artifacts directory (reports, snapshots, archived timeline parts) and the logs, with the
// sessions the test held as values too. It returns what it checked.
func scanIncident(t *testing.T, env *testenv.Env, id string, rep contract.Report, sessions ...session) []string {
	t.Helper()
	scan := env.LeakScan(t)
	for n, s := range sessions {
		scan.Value(fmt.Sprintf("session %d access token", n), s.Access)
		scan.Value(fmt.Sprintf("session %d refresh token", n), s.Refresh)
		scan.Value(fmt.Sprintf("session %d cookie", n), s.Cookie)
	}
	scan.History(id)
	dir := filepath.Join(env.Config.ArtifactsDir(), id)
	require.Equal(t, dir, filepath.Dir(rep.Artifacts[0].Path), "the report is in the incident's artifacts directory")
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		names = append(names, f.Name())
		scan.File("artifact "+f.Name(), filepath.Join(dir, f.Name()))
	}
	for _, want := range []string{"report.md", "report.json", "snapshot-demo.json"} {
		require.Contains(t, names, want, "artifacts of %s", id)
	}
	out, err := env.Starter(t, "report", id, "--format", "md")
	require.NoError(t, err, out)
	scan.Place("starter report", out)
	stats := scan.Check(t)
	require.GreaterOrEqual(t, stats.Histories, 1)
	require.GreaterOrEqual(t, stats.Places, stats.Histories+len(names)+4, "histories, artifacts, worker, backend and server logs, announcements")
	return []string{fmt.Sprintf("leak scan: %d values in %d places (%d histories; artifacts %s; worker, backend and server logs; database), 0 hits",
		stats.Values, stats.Places, stats.Histories, strings.Join(names, ", "))}
}

// activityAttempts reads the incident's history (its current run) and returns, for each activity
// it ran, the attempt that completed it, keyed by type and, for a measure, its action id
// ("ApplyMeasure a1", "UndoMeasure a2", "VerifyIncident #3").
func activityAttempts(t *testing.T, env *testenv.Env, id string) map[string]int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := map[int64]string{}
	out := map[string]int32{}
	it := env.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			name := a.GetActivityType().GetName()
			var in struct {
				ActionID string `json:"action_id"`
			}
			if converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &in) == nil && in.ActionID != "" {
				name += " " + in.ActionID
			} else {
				name += fmt.Sprintf(" #%d", ev.GetEventId())
			}
			names[ev.GetEventId()] = name
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			out[names[a.GetScheduledEventId()]] = a.GetAttempt()
			if a.GetAttempt() > 1 {
				t.Logf("%s ran %d times; the last failure: %s", names[a.GetScheduledEventId()], a.GetAttempt(), a.GetLastFailure())
			}
		}
	}
	require.NotEmpty(t, out, "the history of %s holds activities", id)
	return out
}

// incidentActions are the actions an incident report lists from a timeline (as
// workflows/incident_close.go picks them): the verified accepted decisions, the reporter's
// verified declaration, and the undos.
func incidentActions(evs []contract.Event) []contract.ReportAction {
	var out []contract.ReportAction
	for _, e := range evs {
		if (e.Verified && e.Outcome == "accepted") || (e.Action == "start" && e.Outcome == "verified") || strings.HasPrefix(e.Action, "undo ") {
			out = append(out, contract.ReportAction{At: e.At, Actor: e.Actor, Action: e.Action, Detail: e.Detail})
		}
	}
	return out
}

// incidentStatus asks the incident for its status without failing the test.
func incidentStatus(env *testenv.Env, id string) (contract.IncidentStatus, bool) {
	var st contract.IncidentStatus
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryIncident)
	return st, err == nil && v.Get(&st) == nil
}

func incidentStep(st contract.IncidentStatus, name string) string {
	for _, s := range st.Checklist {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}
