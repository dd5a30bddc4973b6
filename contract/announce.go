package contract

import (
	"strings"
	"time"
)

// Announcements, and the notification workflow that posts them: one long-lived run per Slack
// channel, fed by the Announce activity with signal-with-start, so that a Slack outage delays
// notifications but never blocks a runbook. Workflows build announcements from version ids,
// fingerprints and statuses only, so a notifier never sees a secret.
const (
	// WorkflowNotifyChannel is the notification workflow's type.
	WorkflowNotifyChannel = "NotifyChannel"
	// SignalAnnouncement carries an Announcement.
	SignalAnnouncement = "announcement"
)

// NotifyChannelID is the id of the channel's notification run.
func NotifyChannelID(channel string) string {
	return "notify-" + strings.TrimPrefix(channel, "#")
}

// Message is one announcement.
type Message struct {
	Target  string `json:"target"`
	Channel string `json:"channel"`
	// Kind says what happened: planned, reminder, approved, completed, rollback, escalation, ...
	Kind string `json:"kind"`
	// RunID is the workflow id, so responders can find the run in the Web UI.
	RunID string `json:"run_id"`
	Text  string `json:"text"`
	// Mention lists people who must act (approvers, the rollback owner).
	Mention []string `json:"mention,omitempty"`
}

// Announcement is one Message, with the run it belongs to.
type Announcement struct {
	Message Message `json:"message"`
	// WorkflowID and FirstRunID name the run: one parent message per run (a rotation id is reused
	// by the next rotation of the target, which gets a new parent).
	WorkflowID string `json:"workflow_id"`
	FirstRunID string `json:"first_run_id"`
	// Key is unique per announcement (the announcing activity's run and id), so that a retried
	// Announce is handled once.
	Key string `json:"key"`
	// Seal proves a worker sent it for the run WorkflowID (PeerSeal); its digest covers the
	// announcement without the seal.
	Seal *PeerSeal `json:"seal,omitempty"`
}

// Unsealed is a without its seal: what the seal's digest covers.
func (a Announcement) Unsealed() Announcement {
	a.Seal = nil
	return a
}

// RunKey names the run of an announcement.
func (a Announcement) RunKey() string { return a.WorkflowID + "/" + a.FirstRunID }

// NotifyChannelInput starts the channel's run; its state is carried across continue-as-new.
type NotifyChannelInput struct {
	Channel string `json:"channel"`
	// Refresh is how often the parent messages of open runs are brought up to date (default 10s).
	Refresh time.Duration `json:"refresh,omitempty"`
	// RetryMax caps the backoff of Slack calls (default 1m): how soon notifications catch up
	// after an outage.
	RetryMax time.Duration `json:"retry_max,omitempty"`
	// MaxEvents is the history length at which the run continues as new (default 4000).
	MaxEvents int                `json:"max_events,omitempty"`
	State     NotifyChannelState `json:"state"`
}

// NotifyChannelState is what the channel's run knows.
type NotifyChannelState struct {
	// ChannelID is learned from the first post (chat.update needs the id, not the name).
	ChannelID string `json:"channel_id,omitempty"`
	// Queue holds announcements not yet delivered.
	Queue []Announcement `json:"queue,omitempty"`
	Runs  []*RunThread   `json:"runs,omitempty"`
	// Refused counts the announcements dropped because no worker sealed them for a real run.
	Refused int `json:"refused,omitempty"`
}

// RunThread is one run's parent message and thread.
type RunThread struct {
	WorkflowID string `json:"workflow_id"`
	FirstRunID string `json:"first_run_id"`
	Target     string `json:"target"`
	// TS is the parent message; Hash what it shows, so that an unchanged view is not updated.
	TS   string `json:"ts,omitempty"`
	Hash string `json:"hash,omitempty"`
	// Replies counts the thread replies posted, to key each one.
	Replies int  `json:"replies"`
	Closed  bool `json:"closed,omitempty"`
	// Done says the closed run's parent shows its end and the requester got the outcome.
	Done bool `json:"done,omitempty"`
	// Seen are the keys of the announcements handled.
	Seen []string `json:"seen,omitempty"`
}

// Key names the run.
func (r *RunThread) Key() string { return r.WorkflowID + "/" + r.FirstRunID }

// Posted is where a Slack message landed.
type Posted struct {
	ChannelID string `json:"channel_id"`
	TS        string `json:"ts"`
	// Found says a retry found the message an earlier attempt had posted.
	Found bool `json:"found,omitempty"`
}

// ChannelKind says an announcement is also shown in the channel itself, not only in the run's
// thread: completion, rollback, escalation and break glass.
func ChannelKind(kind string) bool {
	switch kind {
	case "completed", "resolved", "rollback", "rolled-back", "escalation", "break-glass-review", "emergency", "declared":
		return true
	}
	return strings.HasPrefix(kind, "escalation")
}

// UserKind says an announcement also has a notice for the users of the target: the runbooks'
// "prepare user communication" and "communicate user impact" steps.
func UserKind(kind string) bool { return kind == "planned" || kind == "user-impact" }
