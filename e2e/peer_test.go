package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// waitEvent polls a run's timeline until ok holds for one of its events, and returns it.
func waitEvent(t *testing.T, env *testenv.Env, id string, ok func(contract.Event) bool) contract.Event {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, e := range timelineOf(t, env, id) {
			if ok(e) {
				return e
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no such event on the timeline: %+v", id, timelineOf(t, env, id))
	return contract.Event{}
}

// TestForgedPeerMessagesRefused: someone with write access to the namespace, using the real
// Temporal CLI, forges the messages runs send each other. A child-closed that says the
// emergency run completed while it still waits for its go-ahead is refused, is on the
// incident's timeline with the CLI's identity, and the incident still cannot be resolved. An
// unsigned preempt to a rotation is refused and on its timeline; the rotation still waits.
func TestForgedPeerMessagesRefused(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const id = "incident-e2e-forged"
	out, err := env.Starter(t, "incident", "declare", "--id", id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "tokens replayed", "--reporter", "alice")
	require.NoError(t, err, out)
	waitPhase(t, env, id, "contain")
	out, err = env.Starter(t, "incident", "owner", id, "--as", "bob")
	require.NoError(t, err, out)
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "invalidate", "--reason", "session tokens replayed")
	require.NoError(t, err, out)
	invID := contract.InvalidationID("demo")
	waitPhase(t, env, invID, "waiting for go-ahead")

	out, err = env.Temporal(t, "workflow", "update", "execute", "--identity", "mallory-laptop", "--workflow-id", id, "--name", contract.UpdateChildClosed,
		"--input", `{"WorkflowID":"`+invID+`","Outcome":"completed","Summary":"all good"}`)
	require.Error(t, err, "the forged outcome is refused: %s", out)
	require.Contains(t, out, "reads each run's outcome from the server")
	denied := waitEvent(t, env, id, func(e contract.Event) bool {
		return e.Action == contract.UpdateChildClosed && e.Outcome == "denied"
	})
	// The CLI sends an Update under its own process identity (pid@host@), whatever --identity
	// says; it is the CLI's, not this test's worker's.
	require.NotContains(t, denied.Actor, "unknown", "the sender's client identity, from the server's record")
	require.NotEqual(t, fmt.Sprintf("%d@", os.Getpid()), denied.Actor[:strings.Index(denied.Actor, "@")+1], "not the worker's own identity")
	for _, e := range timelineOf(t, env, id) {
		require.NotContains(t, e.Detail, "all good", "the forged summary is never taken")
	}
	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "done")
	require.Error(t, err, out)
	require.Contains(t, out, "still open: "+invID)
	var st contract.IncidentStatus
	v, err := env.Client.QueryWorkflow(ctx, id, "", contract.QueryIncident)
	require.NoError(t, err)
	require.NoError(t, v.Get(&st))
	require.Len(t, st.Children, 1)
	require.Empty(t, st.Children[0].Outcome, "the emergency run is still working")

	// The emergency run is canceled; its real outcome reaches the incident from its close.
	out, err = env.Starter(t, "cancel", invID, "--as", "bob", "--reason", "test over")
	require.NoError(t, err, out)
	waitIncident(t, env, id, func(s contract.IncidentStatus) bool {
		return len(s.Children) == 1 && s.Children[0].Outcome == contract.OutcomeCanceled
	})
	env.CheckReplay(t, id, "", "incident-forged-child-closed")
}

// TestForgedPreemptRefused: an unsigned preempt naming any run does not end or supersede a
// rotation; the attempt is on its timeline with the sender's identity.
func TestForgedPreemptRefused(t *testing.T) {
	env := startStack(t, testenv.Options{})
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "hygiene")
	require.NoError(t, err, out)
	rotID := strings.TrimSpace(out)
	waitPhase(t, env, rotID, "waiting for approval")

	out, err = env.Temporal(t, "workflow", "signal", "--identity", "mallory-laptop", "--workflow-id", rotID, "--name", contract.SignalPreempt,
		"--input", `{"by":"attacker-run","reason":"forged"}`)
	require.NoError(t, err, out)
	denied := waitEvent(t, env, rotID, func(e contract.Event) bool {
		return e.Action == contract.SignalPreempt && e.Outcome == "denied"
	})
	require.Contains(t, denied.Detail, "unsealed")
	require.Equal(t, "mallory-laptop", denied.Actor, "the sender's client identity, from the server's record")
	// The run still waits for its approval, and an approval still takes it through.
	waitPhase(t, env, rotID, "waiting for approval")
	out, err = env.Starter(t, "approve", rotID, "--as", "bob")
	require.NoError(t, err, out)
	res := waitResult[contract.RotationResult](t, env, rotID)
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	env.CheckReplay(t, rotID, "", "rotation-forged-preempt")
}

// TestOwnerTakenAtDeclareIsKept: a responder takes the incident the moment it is posted, while
// the run still verifies its start and declares. The owner decision waits until the run can
// apply it, so "accepted" is what the run then holds: bob owns it and may contain.
func TestOwnerTakenAtDeclareIsKept(t *testing.T) {
	env := startStack(t, testenv.Options{})
	const id = "incident-e2e-owner-at-once"
	out, err := env.Starter(t, "incident", "declare", "--id", id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures", "--reporter", "alice")
	require.NoError(t, err, out)
	out, err = env.Starter(t, "incident", "owner", id, "--as", "bob")
	require.NoError(t, err, out)
	require.Contains(t, out, "accepted")
	st := waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return s.Phase == "contain" })
	require.Equal(t, "bob", st.Owner, "the accepted owner is the owner")
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "log-level", "debug")
	require.NoError(t, err, out)
}
