package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// openChannel starts opening the incident's own Slack channel, #inc-<id>, when the config asks
// for one, and then announces the declaration there. Slack is off the incident's path: the
// freeze, snapshot and checks go on while the channel is made, and when Slack fails for good
// the timeline says so and the messages stay in the target's channel. It reports whether it
// took the declaration's announcement over; if not, the caller announces as before.
func (i *incident) openChannel(ctx workflow.Context, declared string) bool {
	if !i.policy.DedicatedChannel {
		return false
	}
	name := contract.IncidentChannelName(i.id)
	fut := workflow.ExecuteActivity(channelCtx(ctx), act.OpenIncidentChannel, contract.IncidentChannelInput{
		Incident: i.id, Severity: i.st.Severity, Summary: i.st.Summary, People: i.channelPeople(), LinkFrom: i.policy.Channel,
	})
	i.channelCalls++
	workflow.Go(ctx, func(ctx workflow.Context) {
		// Pending until the declaration is announced, so that no continue-as-new drops it.
		defer func() { i.channelCalls-- }()
		var ch contract.IncidentChannel
		if err := fut.Get(ctx, &ch); err != nil {
			i.rec.add(ctx, systemActor, "incident channel", contract.StateFailed, fmt.Sprintf(
				"#%s not opened; the incident's messages stay in %s: %s", name, i.policy.Channel, err.Error()))
		} else {
			i.st.Channel = &ch
			i.rec.add(ctx, systemActor, "incident channel", "opened", channelDetail(ch))
			// Someone may have taken the incident while the channel was being made.
			i.inviteOwner(ctx)
		}
		i.announce(ctx, "declared", declared, i.policy.Approvers...)
	})
	return true
}

// inviteOwner invites the owner to the incident's channel when they are not in it yet (a new
// owner), in the background as the channel was opened.
func (i *incident) inviteOwner(ctx workflow.Context) {
	ch, owner := i.st.Channel, i.st.Owner
	if ch == nil || owner == "" || slices.Contains(ch.Invited, owner) || slices.ContainsFunc(ch.Skipped, func(s string) bool {
		return strings.HasPrefix(s, owner+": ")
	}) {
		return
	}
	// Marked at once, so that a second owner change before the answer does not ask again.
	ch.Invited = append(ch.Invited, owner)
	fut := workflow.ExecuteActivity(channelCtx(ctx), act.InviteToIncidentChannel,
		contract.IncidentInviteInput{ChannelID: ch.ID, People: []string{owner}})
	i.channelCalls++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { i.channelCalls-- }()
		var res contract.IncidentInviteResult
		err := fut.Get(ctx, &res)
		switch {
		case err != nil:
			ch.Invited = slices.DeleteFunc(ch.Invited, func(p string) bool { return p == owner })
			ch.Skipped = append(ch.Skipped, owner+": "+err.Error())
			i.rec.add(ctx, systemActor, "incident channel", contract.StateFailed, fmt.Sprintf("owner %s not invited to #%s: %s", owner, ch.Name, err.Error()))
		case len(res.Skipped) > 0:
			ch.Invited = slices.DeleteFunc(ch.Invited, func(p string) bool { return p == owner })
			ch.Skipped = append(ch.Skipped, res.Skipped...)
			i.rec.add(ctx, systemActor, "incident channel", "not invited", fmt.Sprintf("owner %s to #%s", strings.Join(res.Skipped, "; "), ch.Name))
		default:
			i.rec.add(ctx, systemActor, "incident channel", "invited", fmt.Sprintf("owner %s to #%s", owner, ch.Name))
		}
	})
}

// channel is where the incident's messages go: its own channel once open, else the target's.
func (i *incident) channel() string {
	if c := i.st.Channel; c != nil && c.ID != "" {
		return c.ID
	}
	return i.policy.Channel
}

// channelPeople are invited to the incident's channel: the reporter, the owner and the
// approvers, each once.
func (i *incident) channelPeople() []string {
	var out []string
	for _, p := range append([]string{i.st.Reporter, i.st.Owner}, i.policy.Approvers...) {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func channelDetail(ch contract.IncidentChannel) string {
	d := fmt.Sprintf("#%s (%s)", ch.Name, ch.ID)
	if len(ch.Invited) > 0 {
		d += "; invited " + strings.Join(ch.Invited, ", ")
	}
	if len(ch.Skipped) > 0 {
		d += "; not invited: " + strings.Join(ch.Skipped, "; ")
	}
	if ch.LinkedFrom != "" {
		d += "; linked from " + ch.LinkedFrom
	}
	return d
}

// channelCtx bounds the channel's Slack calls: a few retries (a rate limit waits as long as
// Slack asks), then the incident goes on without its own channel.
func channelCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    orDefault(timeoutsOf(ctx).Activity, 30*time.Second),
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 20 * time.Second, MaximumAttempts: 6,
			NonRetryableErrorTypes: []string{contract.ErrTypeSlackPermanent, contract.ErrTypeConfig, contract.ErrTypeInvalidInput},
		},
	})
}
