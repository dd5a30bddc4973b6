package activities

import (
	"context"
	"errors"
	"slices"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify"
)

// OpenIncidentChannel creates the incident's channel #inc-<id>, invites the people who have a
// Slack id, and posts a link to it in the target's channel. Every step is safe to retry: a
// taken name is the channel an earlier attempt created, a person already in it is fine, and
// the link is found by its metadata key before it is posted again.
func (a *Notifications) OpenIncidentChannel(ctx context.Context, in contract.IncidentChannelInput) (contract.IncidentChannel, error) {
	s, err := a.slack()
	if err != nil {
		return contract.IncidentChannel{}, err
	}
	if err := contract.CheckIncidentID(in.Incident); err != nil {
		return contract.IncidentChannel{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidInput, nil)
	}
	ch := contract.IncidentChannel{Name: contract.IncidentChannelName(in.Incident), LinkedFrom: in.LinkFrom}
	ch.ID, _, err = s.CreateChannel(ctx, ch.Name)
	if err != nil {
		return contract.IncidentChannel{}, channelError(err)
	}
	if ch.Invited, ch.Skipped, err = a.invite(ctx, s, ch.ID, in.People); err != nil {
		return contract.IncidentChannel{}, err
	}
	if in.LinkFrom != "" {
		// Looked for before every post, not only on retries: it is posted once per incident, so
		// looking costs little.
		_, err := s.Post(ctx, notify.Post{Channel: in.LinkFrom, Key: "incident-channel/" + in.Incident,
			Text: notify.IncidentLink(in.Incident, in.Severity, in.Summary, ch.ID)}, true)
		if err != nil {
			return contract.IncidentChannel{}, channelError(err)
		}
	}
	return ch, nil
}

// InviteToIncidentChannel invites people to an incident's channel, as OpenIncidentChannel does.
func (a *Notifications) InviteToIncidentChannel(ctx context.Context, in contract.IncidentInviteInput) (contract.IncidentInviteResult, error) {
	s, err := a.slack()
	if err != nil {
		return contract.IncidentInviteResult{}, err
	}
	var res contract.IncidentInviteResult
	res.Invited, res.Skipped, err = a.invite(ctx, s, in.ChannelID, in.People)
	return res, err
}

// invite invites each person once: those with no slack_id, or whom Slack refuses for good, are
// skipped with why; an outage fails the attempt, which a retry repeats safely.
func (a *Notifications) invite(ctx context.Context, s *notify.Slack, channelID string, people []string) (invited, skipped []string, err error) {
	var seen []string
	for _, name := range people {
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		id := a.slackID(name)
		if id == "" {
			skipped = append(skipped, name+": no slack_id")
			continue
		}
		if err := s.Invite(ctx, channelID, id); err != nil {
			if !notify.ChannelPermanent(err) {
				return nil, nil, channelError(err)
			}
			skipped = append(skipped, name+": "+slackReason(err))
			continue
		}
		invited = append(invited, name)
	}
	return invited, skipped, nil
}

// channelError is slackError, with the refusals of channel calls that will not change on retry
// made permanent.
func channelError(err error) error {
	if err == nil {
		return nil
	}
	if notify.ChannelPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeSlackPermanent, nil)
	}
	return slackError(err)
}

// slackReason is Slack's error code when it gave one, else the error.
func slackReason(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return err.Error()
}
