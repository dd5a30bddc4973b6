// Package notify sends runbook announcements to responders.
//
// Announcements are built by workflows from version ids, fingerprints and statuses only, so
// a notifier never sees a secret.
package notify

import (
	"context"
	"log/slog"
)

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

// Notifier delivers messages. Implementations must be safe to call again with the same
// message: activities retry.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Log writes announcements as structured log lines; the default until a chat notifier is set.
type Log struct {
	Logger *slog.Logger
}

// Notify logs the message.
func (l Log) Notify(ctx context.Context, m Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "announcement",
		"target", m.Target, "channel", m.Channel, "kind", m.Kind, "run_id", m.RunID,
		"mention", m.Mention, "text", m.Text)
	return nil
}
