package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
)

// CreateChannel creates the public channel name (conversations.create) and returns its id.
// When the name is taken, as when an earlier attempt created it and lost the answer, it
// returns the existing channel's id with created false: a retry never makes a second channel.
func (s *Slack) CreateChannel(ctx context.Context, name string) (id string, created bool, err error) {
	ch, err := s.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
	if err == nil {
		s.mu.Lock()
		s.ids[name] = ch.ID
		s.mu.Unlock()
		return ch.ID, true, nil
	}
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "name_taken" {
		return "", false, fmt.Errorf("conversations.create %s: %w", name, err)
	}
	id, err = s.ChannelID(ctx, name)
	if err != nil {
		return "", false, err
	}
	if id == "" {
		// Taken by a channel the bot cannot see (archived, or private without it): retrying
		// will not help.
		return "", false, fmt.Errorf("conversations.create %s: the name is taken by a channel the bot cannot see: %w", name, err)
	}
	return id, false, nil
}

// Invite adds a user to a channel (conversations.invite). A user already in it is not an
// error, so that a retry goes through.
func (s *Slack) Invite(ctx context.Context, channelID, userID string) error {
	_, err := s.api.InviteUsersToConversationContext(ctx, channelID, userID)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "already_in_channel" || se.Err == "cant_invite_self") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("conversations.invite %s to %s: %w", userID, channelID, err)
	}
	return nil
}

// ChannelPermanent says a channel call failed for good: Permanent's errors, and the refusals
// of conversations.create and conversations.invite that retrying will not change.
func ChannelPermanent(err error) bool {
	if Permanent(err) {
		return true
	}
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "name_taken", "invalid_name", "invalid_name_required", "invalid_name_punctuation", "invalid_name_maxlength",
		"invalid_name_specials", "restricted_action", "no_permission", "user_is_restricted", "cant_invite",
		"user_not_found", "users_not_found", "ura_max_channels", "is_archived", "team_access_not_granted":
		return true
	}
	return false
}

// ChannelLink is the mrkdwn link to a channel id (<#C…>), or "" for anything that is not one.
func ChannelLink(channelID string) string {
	if !channelIDPattern.MatchString(channelID) {
		return ""
	}
	return "<#" + channelID + ">"
}

// IncidentLink is the message that points the target's channel at an incident's own channel.
// The summary comes from people: it is escaped.
func IncidentLink(incident, severity, summary, channelID string) string {
	return fmt.Sprintf("*AUTH INCIDENT %s* (%s): %s\nThe incident is handled in %s: its messages, decisions and updates are posted there.",
		Escape(incident), Escape(severity), Escape(summary), ChannelLink(channelID))
}
