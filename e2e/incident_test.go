package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestIncidentEndToEnd walks runbook 1 on the real dev server and demo backend, as the README's
// demo does: declare, take ownership, deny a range, require a reset, force logout, an emergency
// invalidation from the incident, verify, resolve. The backend really applies each control while
// it is active and really drops the temporary ones after resolve.
func TestIncidentEndToEnd(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctl := controls.Client{BaseURL: env.BackendURL, Token: env.AdminToken(t)}
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)
	oldSecret := env.Secret(t)

	const id = "incident-e2e-stuffing"
	out, err := env.Starter(t, "incident", "declare", "--id", id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures x40 from 127.0.0.2", "--reporter", "alice")
	require.NoError(t, err, out)
	require.Contains(t, out, id)
	waitPhase(t, env, id, "contain")

	// The same id again is refused and changes nothing: an alert deduplicates by id.
	out, err = env.Starter(t, "incident", "declare", "--id", id, "--trigger", "other", "--severity", "low",
		"--summary", "dup", "--reporter", "alice")
	require.Error(t, err, out)
	require.Contains(t, out, "already")

	// The freeze is readable from Temporal, and a rotation of the frozen target is refused.
	out, err = env.Starter(t, "freeze", "status", "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, id)
	require.Contains(t, out, "demo")
	out, err = env.Starter(t, "rotate", "--target", "demo", "--requested-by", "bob")
	require.NoError(t, err, out)
	rotID := strings.TrimSpace(out)
	rot := waitResult[contract.RotationResult](t, env, rotID)
	rd, err := env.Client.DescribeWorkflow(ctx, rotID, "")
	require.NoError(t, err)
	rotRun := rd.RawResponse.WorkflowExecutionInfo.Execution.RunId
	require.Equal(t, contract.OutcomeFrozen, rot.Outcome, rot.Summary)
	require.Contains(t, rot.Summary, "frozen by "+id)

	out, err = env.Starter(t, "incident", "owner", id, "--as", "bob")
	require.NoError(t, err, out)

	// Deny a range: a client bound to 127.0.0.2 is refused, the worker's own probes are not.
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "127.0.0.2/32")
	require.NoError(t, err, out)
	st, err := ctl.State(ctx)
	require.NoError(t, err)
	require.Contains(t, st.DeniedCIDRs, "127.0.0.2/32")
	require.Equal(t, http.StatusForbidden, loginFrom(t, env, "127.0.0.2", u))
	require.Equal(t, http.StatusOK, loginFrom(t, env, "127.0.0.1", u))

	// A range holding the probes' own address is refused without --force, and changes nothing.
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "127.0.0.0/8")
	require.Error(t, err, out)
	require.Contains(t, out, "probes")

	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "log-level", "debug")
	require.NoError(t, err, out)

	// Require a reset: the account is refused at login and its session is revoked.
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "require-reset", demoenv.UserDemo)
	require.NoError(t, err, out)
	require.Equal(t, http.StatusUnauthorized, u.me(t, before.Access))
	require.Equal(t, http.StatusForbidden, loginFrom(t, env, "127.0.0.1", u))

	// Force logout of everyone needs one approver besides the owner.
	probe := newUser(t, env, demoenv.UserProbeAdmin)
	probeSession := probe.login(t)
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "logout-all")
	require.NoError(t, err, out)
	require.Contains(t, out, "a4")
	require.Equal(t, http.StatusOK, probe.me(t, probeSession.Access), "nothing changes before the approval")
	out, err = env.Starter(t, "approve", id, "--action", "a4", "--as", "bob")
	require.Error(t, err, out)
	out, err = env.Starter(t, "approve", id, "--action", "a4", "--as", "carol")
	require.NoError(t, err, out)
	require.Equal(t, http.StatusUnauthorized, probe.me(t, probeSession.Access))

	// Emergency invalidation from the incident: a child run, its own go-ahead, linked both ways.
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "invalidate", "--reason", "session tokens replayed")
	require.NoError(t, err, out)
	invID := contract.InvalidationID("demo")
	waitPhase(t, env, invID, "waiting for go-ahead")
	out, err = env.Starter(t, "approve", invID, "--as", "carol")
	require.NoError(t, err, out)
	inv := waitResult[contract.InvalidationResult](t, env, invID)
	require.Equal(t, contract.OutcomeCompleted, inv.Outcome, inv.Summary)
	desc, err := env.Client.DescribeWorkflow(ctx, invID, "")
	require.NoError(t, err)
	require.Equal(t, id, desc.RawResponse.WorkflowExecutionInfo.GetParentExecution().GetWorkflowId(), "the child names the incident")
	waitIncident(t, env, id, func(s contract.IncidentStatus) bool {
		return len(s.Children) == 1 && s.Children[0].Outcome == contract.OutcomeCompleted
	})
	newSecret := env.Secret(t)
	require.NotEqual(t, oldSecret, newSecret)

	out, err = env.Starter(t, "incident", "verify", id, "--as", "bob")
	require.NoError(t, err, out)

	// Resolve: the deny and the log level are undone, the freeze lifts, the report is written.
	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "stuffing from one host; blocked and reset",
		"--follow-up", "rate-limit /auth/token")
	require.NoError(t, err, out)
	rep := waitResult[contract.Report](t, env, id)
	require.Equal(t, contract.OutcomeResolved, rep.Outcome)
	st, err = ctl.State(ctx)
	require.NoError(t, err)
	require.NotContains(t, st.DeniedCIDRs, "127.0.0.2/32", "the temporary deny is dropped")
	require.NotEqual(t, "debug", st.LogLevel, "the log level is restored")
	require.Contains(t, st.PasswordResetUsers, demoenv.UserDemo, "a required reset stays")
	require.Equal(t, http.StatusOK, loginFrom(t, env, "127.0.0.2", newUser(t, env, demoenv.UserProbe)), "the range is served again")
	out, err = env.Starter(t, "freeze", "status")
	require.NoError(t, err, out)
	require.NotContains(t, out, id)

	// The report lists every action with its actor; the artifacts are on disk.
	for _, a := range []string{"owner", "contain", "approve", "resolve"} {
		requireAction(t, rep, a)
	}
	for _, v := range rep.Validations {
		require.True(t, v.OK, "%s: %+v", v.Stage, v.Results)
	}
	require.Len(t, rep.Artifacts, 2)
	md, err := os.ReadFile(rep.Artifacts[0].Path)
	require.NoError(t, err)
	require.Contains(t, string(md)+string(mustRead(t, rep.Artifacts[1].Path)), "bob")
	out, err = env.Starter(t, "report", id, "--format", "md")
	require.NoError(t, err, out)
	require.Contains(t, out, "carol")

	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", newSecret)
	scan.Value("old access token", before.Access)
	scan.Value("old refresh token", before.Refresh)
	scan.Value("probe-admin access token", probeSession.Access)
	for _, wid := range []string{id, invID, contract.RotationID("demo")} {
		scan.History(wid)
	}
	for _, a := range rep.Artifacts {
		scan.File("artifact "+filepath.Base(a.Path), a.Path)
	}
	for _, s := range snapshotFiles(t, filepath.Dir(rep.Artifacts[0].Path)) {
		scan.File("snapshot "+filepath.Base(s), s)
	}
	scan.Place("starter report", out)
	scan.Check(t)
	env.CheckReplay(t, id, "", "incident-resolved")
	env.CheckReplay(t, invID, "", "invalidation-incident-child")
	env.CheckReplay(t, rotID, rotRun, "rotation-frozen")
}

// loginFrom logs in as u from a client bound to the local address from; the demo backend sees
// that address as the client's.
func loginFrom(t *testing.T, env *testenv.Env, from string, u *user) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
	}}
	body, _ := json.Marshal(map[string]string{"username": u.name, "password": u.pw})
	resp, err := c.Post(env.BackendURL+"/auth/token", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitIncident waits until the incident's status satisfies ok.
func waitIncident(t *testing.T, env *testenv.Env, id string, ok func(contract.IncidentStatus) bool) contract.IncidentStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var st contract.IncidentStatus
	for time.Now().Before(deadline) {
		v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryIncident)
		if err == nil && v.Get(&st) == nil && ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("incident %s never reached the expected state: %+v", id, st)
	return st
}

func requireAction(t *testing.T, rep contract.Report, action string) {
	t.Helper()
	for _, a := range rep.Actions {
		if a.Action == action && a.Actor != "" {
			return
		}
	}
	t.Fatalf("report has no %s action: %+v", action, rep.Actions)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func snapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "snapshot-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, m, "snapshots in %s", dir)
	return m
}

// TestIncidentLinksRunningInvalidation: an emergency run of the target is already going when the
// incident asks for one. It is linked, not started again, and its outcome reaches the incident's
// timeline when it closes; resolve waits for it.
func TestIncidentLinksRunningInvalidation(t *testing.T) {
	env := startStack(t, testenv.Options{})
	invID := contract.InvalidationID("demo")
	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "key in a public gist",
		"--trigger", "secret-compromise", "--requested-by", "alice")
	require.NoError(t, err, out)
	waitPhase(t, env, invID, "waiting for go-ahead")
	desc, err := env.Client.DescribeWorkflow(context.Background(), invID, "")
	require.NoError(t, err)
	invRun := desc.RawResponse.WorkflowExecutionInfo.Execution.RunId

	const id = "incident-e2e-linked"
	out, err = env.Starter(t, "incident", "declare", "--id", id, "--trigger", "impersonation", "--severity", "critical",
		"--summary", "sessions used from two countries at once", "--reporter", "bob")
	require.NoError(t, err, out)
	waitPhase(t, env, id, "contain")
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "invalidate", "--reason", "sessions hijacked")
	require.NoError(t, err, out)
	require.Contains(t, out, "linked "+invID)
	st := waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return len(s.Children) == 1 })
	require.True(t, st.Children[0].Linked)
	again, err := env.Client.DescribeWorkflow(context.Background(), invID, "")
	require.NoError(t, err)
	require.Equal(t, invRun, again.RawResponse.WorkflowExecutionInfo.Execution.RunId, "the running emergency run was not started again")

	// Resolve waits for the linked run.
	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "contained")
	require.Error(t, err, out)
	require.Contains(t, out, "still open")

	out, err = env.Starter(t, "approve", invID, "--as", "carol")
	require.NoError(t, err, out)
	inv := waitResult[contract.InvalidationResult](t, env, invID)
	require.Equal(t, contract.OutcomeCompleted, inv.Outcome, inv.Summary)
	waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return s.Children[0].Outcome == contract.OutcomeCompleted })
	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "contained by the emergency run")
	require.NoError(t, err, out)
	rep := waitResult[contract.Report](t, env, id)
	require.Equal(t, contract.OutcomeResolved, rep.Outcome)
	requireTimeline(t, rep.Timeline, "authops", "emergency-invalidation "+invID, contract.OutcomeCompleted)
	env.CheckReplay(t, id, "", "incident-linked-invalidation")
}
