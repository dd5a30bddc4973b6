package config

import (
	"fmt"
	"regexp"
)

// Notify says where a target's user-facing notices go, besides its responders' channel: the
// runbooks' "prepare user communication" and "communicate user impact" steps. Both are optional.
type Notify struct {
	// UsersChannel is a Slack channel for the target's users (#status, or an id).
	UsersChannel string `yaml:"users_channel"`
	// StatusWebhook is a URL that takes {"text": …} (a Slack incoming webhook, a status page).
	// A webhook URL is a credential, so it is a reference, never inline.
	StatusWebhook *Ref `yaml:"status_webhook"`
}

var slackChannel = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{2,30})$`)

// validateNotify checks a target's notify key.
func (t *Target) validateNotify() error {
	n := t.Notify
	if n.UsersChannel != "" && !slackChannel.MatchString(n.UsersChannel) {
		return fmt.Errorf("targets.%s.notify.users_channel: must be a Slack channel name (#status) or id, got %q", t.Name, n.UsersChannel)
	}
	if n.UsersChannel != "" && n.UsersChannel == t.Channel {
		return fmt.Errorf("targets.%s.notify.users_channel: must not be the responders' channel %s: users get their own notices", t.Name, t.Channel)
	}
	if n.StatusWebhook != nil {
		if err := checkRef(*n.StatusWebhook); err != nil {
			return fmt.Errorf("targets.%s.notify.status_webhook: %v", t.Name, err)
		}
	}
	return nil
}
