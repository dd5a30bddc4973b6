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

// IncidentChannelInput asks for an incident's dedicated channel.
type IncidentChannelInput struct {
	Incident string `json:"incident"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	// People are the names to invite: the reporter, the owner and the approvers.
	People []string `json:"people"`
	// LinkFrom is the channel that gets the link to the new one (the target's).
	LinkFrom string `json:"link_from"`
}

// OpenIncidentChannel creates the incident's channel #inc-<id>, invites the people who have a
// Slack id, and posts a link to it in the target's channel. Every step is safe to retry: a
// taken name is the channel an earlier attempt created, a person already in it is fine, and
// the link is found by its metadata key before it is posted again.
func (a *Activities) OpenIncidentChannel(ctx context.Context, in IncidentChannelInput) (contract.IncidentChannel, error) {
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
	var invited, seen []string
	for _, name := range in.People {
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		id := a.slackID(name)
		if id == "" {
			ch.Skipped = append(ch.Skipped, name+": no slack_id")
			continue
		}
		if err := s.Invite(ctx, ch.ID, id); err != nil {
			if !notify.ChannelPermanent(err) {
				return contract.IncidentChannel{}, channelError(err)
			}
			ch.Skipped = append(ch.Skipped, name+": "+slackReason(err))
			continue
		}
		invited = append(invited, name)
	}
	ch.Invited = invited
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

// channelError is slackError, with the refusals of channel calls that will not change on retry
// made permanent.
func channelError(err error) error {
	if err == nil {
		return nil
	}
	if notify.ChannelPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSlackPermanent, nil)
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
