package notify

import (
	"strings"
	"time"

	"github.com/authops/authops/contract"
)

// The notification workflow: one long-lived run per Slack channel, fed by the Announce activity
// with signal-with-start, so that a Slack outage delays notifications but never blocks a runbook.
const (
	// ChannelWorkflow is the workflow type.
	ChannelWorkflow = "NotifyChannel"
	// SignalAnnouncement carries an Announcement.
	SignalAnnouncement = "announcement"
)

// ChannelWorkflowID is the id of the channel's notification run.
func ChannelWorkflowID(channel string) string {
	return "notify-" + strings.TrimPrefix(channel, "#")
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
	// Seal proves a worker sent it for the run WorkflowID (contract.PeerSeal); its digest covers
	// the announcement without the seal.
	Seal *contract.PeerSeal `json:"seal,omitempty"`
}

// Unsealed is a without its seal: what the seal's digest covers.
func (a Announcement) Unsealed() Announcement {
	a.Seal = nil
	return a
}

// RunKey names the run of an announcement.
func (a Announcement) RunKey() string { return a.WorkflowID + "/" + a.FirstRunID }

// ChannelInput starts the channel's run; its state is carried across continue-as-new.
type ChannelInput struct {
	Channel string `json:"channel"`
	// Refresh is how often the parent messages of open runs are brought up to date (default 10s).
	Refresh time.Duration `json:"refresh,omitempty"`
	// RetryMax caps the backoff of Slack calls (default 1m): how soon notifications catch up
	// after an outage.
	RetryMax time.Duration `json:"retry_max,omitempty"`
	// MaxEvents is the history length at which the run continues as new (default 4000).
	MaxEvents int          `json:"max_events,omitempty"`
	State     ChannelState `json:"state"`
}

// ChannelState is what the channel's run knows.
type ChannelState struct {
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

// ChannelKinds are the announcements also shown in the channel itself, not only in the run's
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

// UserNotice is what users are told: what they will see, never the internals (no fingerprint,
// version, person, reason or run id).
func UserNotice(kind, target string) string {
	switch kind {
	case "planned":
		return "Planned security maintenance on " + Escape(target) +
			": when it happens, everyone is signed out and you will need to sign in again. Nothing else changes for you."
	case "user-impact":
		return "Security maintenance on " + Escape(target) +
			" has just signed everyone out: you will need to sign in again. Some pages may be unavailable for a short while."
	}
	return ""
}
