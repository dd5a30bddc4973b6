package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

const incChannelID = "CINC42"

// channelOpens answers OpenIncidentChannel with answer, attempt by attempt (1-based).
func (h *incHarness) channelOpens(answer func(attempt int, in contract.IncidentChannelInput) (contract.IncidentChannel, error)) {
	h.ipolicy.DedicatedChannel = true
	attempts := 0
	h.env.OnActivity(acts.OpenIncidentChannel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.IncidentChannelInput) (contract.IncidentChannel, error) {
			h.mu.Lock()
			attempts++
			n := attempts
			h.mu.Unlock()
			return answer(n, in)
		})
}

func incChannelOpened(_ int, in contract.IncidentChannelInput) (contract.IncidentChannel, error) {
	return contract.IncidentChannel{Name: contract.IncidentChannelName(in.Incident), ID: incChannelID,
		Invited: []string{"alice", "bob"}, Skipped: []string{"carol: no slack_id"}, LinkedFrom: in.LinkFrom}, nil
}

// With incident.dedicated_channel on, the declaration opens #inc-<id> once, with the reporter,
// the owner and the approvers to invite and the link from the target's channel; the status
// shows the channel, and every message of the incident goes there, the declaration first.
func TestIncident_DedicatedChannel(t *testing.T) {
	h := newIncHarness(t)
	h.channelOpens(incChannelOpened)
	var st contract.IncidentStatus
	h.at(time.Minute, func() { st = h.incStatus() })
	h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}})
	// The owner clock (5m) escalates in the incident's channel.
	h.resolveAt(10*time.Minute, "alice", incResolve())
	h.run(incInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeResolved, res.Outcome)
	opens := h.callsNamed("OpenIncidentChannel")
	require.Len(t, opens, 1, "one channel, opened once")
	assert.Equal(t, contract.IncidentChannelInput{Incident: incID, Severity: "high", Summary: incSummary,
		People: []string{"alice", "bob", "carol"}, LinkFrom: "#sec-incident"}, opens[0].Channel,
		"the reporter (also the owner) and the approvers, each once; the link from the target's channel")

	want := &contract.IncidentChannel{Name: "inc-" + incID, ID: incChannelID, Invited: []string{"alice", "bob"},
		Skipped: []string{"carol: no slack_id"}, LinkedFrom: "#sec-incident"}
	assert.Equal(t, want, st.Channel, "the status shows the channel")
	ev := requireEvent(t, res.Timeline, systemActor, "incident channel", "opened")
	assert.Equal(t, "#inc-"+incID+" ("+incChannelID+"); invited alice, bob; not invited: carol: no slack_id; linked from #sec-incident", ev.Detail)

	kinds := h.announceKinds()
	require.Equal(t, "declared", kinds[0])
	assert.Contains(t, kinds, "escalation")
	assert.Equal(t, "resolved", kinds[len(kinds)-1])
	for _, m := range h.messages("declared") {
		assert.Equal(t, []string{"alice", "bob", "carol"}, m.Mention, "approvers are mentioned in the channel")
	}
	for _, c := range h.callsNamed("Announce") {
		assert.Equal(t, incChannelID, c.Msg.Channel, "%s goes to the incident's channel", c.Msg.Kind)
	}
	assert.Equal(t, "sent", requireEvent(t, res.Timeline, systemActor, "announce declared", "sent").Outcome)
	assert.Equal(t, "to "+incChannelID, requireEvent(t, res.Timeline, systemActor, "announce declared", "sent").Detail)
}

// Slack is off the incident's path: while the channel's calls fail and are retried, the freeze,
// snapshot and checks go on; when they have failed for good, the timeline says so and every
// message goes to the target's channel.
func TestIncident_DedicatedChannelFails(t *testing.T) {
	cases := map[string]struct {
		err      error
		attempts int
	}{
		"Slack down":             {errors.New("chat: 500 Internal Server Error"), 6},
		"Slack refuses for good": {temporal.NewNonRetryableApplicationError("restricted_action", contract.ErrTypeSlackPermanent, nil), 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newIncHarness(t)
			h.channelOpens(func(int, contract.IncidentChannelInput) (contract.IncidentChannel, error) {
				return contract.IncidentChannel{}, tc.err
			})
			var st contract.IncidentStatus
			h.at(5*time.Minute, func() { st = h.incStatus() })
			h.resolveAt(10*time.Minute, "alice", incResolve())
			h.run(incInput())

			res := h.completed()
			assert.Equal(t, contract.OutcomeResolved, res.Outcome, "the incident goes on without its channel")
			opens := h.callsNamed("OpenIncidentChannel")
			require.Len(t, opens, tc.attempts)
			snaps := h.callsNamed("SnapshotTarget")
			require.Len(t, snaps, 1)
			assert.Zero(t, snaps[0].At, "the snapshot did not wait for Slack")
			for _, step := range []string{contract.StepFreeze, contract.StepSnapshot, contract.StepConfirm} {
				requireEvent(t, res.Timeline, systemActor, step, contract.StateDone)
			}

			assert.Nil(t, st.Channel)
			ev := requireEvent(t, res.Timeline, systemActor, "incident channel", contract.StateFailed)
			assert.Contains(t, ev.Detail, "#inc-"+incID+" not opened; the incident's messages stay in #sec-incident")
			kinds := h.announceKinds()
			require.NotEmpty(t, kinds)
			assert.Equal(t, "declared", kinds[0], "the declaration is still announced")
			for _, c := range h.callsNamed("Announce") {
				assert.Equal(t, "#sec-incident", c.Msg.Channel, "%s falls back to the target's channel", c.Msg.Kind)
			}
		})
	}
}

// A rate limit is waited out as Slack asks (NextRetryDelay), then the channel opens.
func TestIncident_DedicatedChannelRateLimited(t *testing.T) {
	h := newIncHarness(t)
	h.channelOpens(func(n int, in contract.IncidentChannelInput) (contract.IncidentChannel, error) {
		if n == 1 {
			return contract.IncidentChannel{}, temporal.NewApplicationErrorWithOptions("slack rate limit", contract.ErrTypeSlackRateLimited,
				temporal.ApplicationErrorOptions{NextRetryDelay: 40 * time.Second})
		}
		return incChannelOpened(n, in)
	})
	h.resolveAt(10*time.Minute, "alice", incResolve())
	h.run(incInput())

	h.completed()
	opens := h.callsNamed("OpenIncidentChannel")
	require.Len(t, opens, 2)
	assert.GreaterOrEqual(t, opens[1].At-opens[0].At, 40*time.Second, "the retry waited Retry-After")
	declared := h.announced("declared")
	require.Len(t, declared, 1)
	assert.Equal(t, incChannelID, declared[0].Msg.Channel)
	assert.GreaterOrEqual(t, declared[0].At, opens[1].At, "the declaration is announced in the channel once it is open")
}

// With the setting off (the default), no channel is opened and messages go to the target's
// channel as before.
func TestIncident_NoDedicatedChannel(t *testing.T) {
	h := newIncHarness(t)
	h.resolveAt(2*time.Minute, "alice", incResolve())
	h.run(incInput())

	res := h.completed()
	assert.Empty(t, h.callsNamed("OpenIncidentChannel"))
	for _, c := range h.callsNamed("Announce") {
		assert.Equal(t, "#sec-incident", c.Msg.Channel)
	}
	for _, e := range res.Timeline {
		assert.NotEqual(t, "incident channel", e.Action)
	}
}

// Continue-as-new carries the channel: the new run posts there and opens none.
func TestIncident_DedicatedChannelContinueAsNew(t *testing.T) {
	h := newIncHarness(t)
	h.ipolicy.HistoryLimit = 60
	h.channelOpens(incChannelOpened)
	h.decideAt(time.Minute, contract.UpdateOwner, "bob", "")
	h.at(2*time.Minute, func() { h.env.SetCurrentHistoryLength(61) })
	h.noteAt(3*time.Minute, "carol", "the note that crosses the limit", false)
	h.run(incInput())

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var carried contract.IncidentInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &carried))
	require.NotNil(t, carried.State)
	require.NotNil(t, carried.State.Status.Channel)
	assert.Equal(t, incChannelID, carried.State.Status.Channel.ID)

	h2 := newIncHarness(t)
	h2.channelOpens(incChannelOpened)
	h2.env.SetStartTime(h.env.Now())
	h2.env.SetContinuedExecutionRunID("run-1")
	var st contract.IncidentStatus
	h2.at(30*time.Second, func() { st = h2.incStatus() })
	h2.resolveAt(time.Minute, "bob", incResolve())
	h2.runRaw(carried)

	h2.completed()
	assert.Empty(t, h2.callsNamed("OpenIncidentChannel"), "no second channel")
	resolved := h2.messages("resolved")
	require.Len(t, resolved, 1)
	assert.Equal(t, incChannelID, resolved[0].Channel, "the new run posts in the carried channel")
	require.NotNil(t, st.Channel, "the status of the new run shows the channel")
	assert.Equal(t, incChannelID, st.Channel.ID)
}

// A new owner who is not in the incident's channel is invited to it, also when they took the
// incident while the channel was being made; an owner already in it is not asked for again.
func TestIncident_DedicatedChannelNewOwner(t *testing.T) {
	for name, openAfter := range map[string]time.Duration{"channel open": 0, "channel being made": 2 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			h := newIncHarness(t)
			h.ipolicy.DedicatedChannel = true
			// dave approves nothing; incident.owners lets him own incidents.
			h.ipolicy.Owners = []string{"dave"}
			h.env.OnActivity(acts.OpenIncidentChannel, mock.Anything, mock.Anything).After(openAfter).Return(
				func(_ context.Context, in contract.IncidentChannelInput) (contract.IncidentChannel, error) {
					return incChannelOpened(1, in)
				})
			h.env.OnActivity(acts.InviteToIncidentChannel, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in contract.IncidentInviteInput) (contract.IncidentInviteResult, error) {
					return contract.IncidentInviteResult{Invited: in.People}, nil
				})
			dave := h.decideAt(time.Minute, contract.UpdateOwner, "dave", "taking it")
			h.decideAt(4*time.Minute, contract.UpdateOwner, "bob", "mine now")
			var st contract.IncidentStatus
			h.at(5*time.Minute, func() { st = h.incStatus() })
			h.resolveAt(6*time.Minute, "bob", incResolve())
			h.run(incInput())

			res := h.completed()
			dave.requireAccepted(t)
			var invites []contract.IncidentInviteInput
			for _, c := range h.recorded() {
				if c.Name == "InviteToIncidentChannel" {
					invites = append(invites, c.Invite)
				}
			}
			assert.Equal(t, []contract.IncidentInviteInput{{ChannelID: incChannelID, People: []string{"dave"}}}, invites,
				"dave is invited once; bob was in the channel already")
			require.NotNil(t, st.Channel)
			assert.Equal(t, []string{"alice", "bob", "dave"}, st.Channel.Invited)
			assert.Equal(t, "owner dave to #inc-"+incID, requireEvent(t, res.Timeline, systemActor, "incident channel", "invited").Detail)
		})
	}
}
