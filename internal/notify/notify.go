// Package notify sends runbook announcements to responders.
//
// Announcements are built by workflows from version ids, fingerprints and statuses only, so
// a notifier never sees a secret.
package notify

import (
	"context"
	"log/slog"

	"github.com/authops/authops/contract"
)

// Notifier delivers messages. Implementations must be safe to call again with the same
// message: activities retry.
type Notifier interface {
	Notify(ctx context.Context, m contract.Message) error
}

// Log writes announcements as structured log lines; the default until a chat notifier is set.
type Log struct {
	Logger *slog.Logger
}

// Notify logs the message.
func (l Log) Notify(ctx context.Context, m contract.Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "announcement",
		"target", m.Target, "channel", m.Channel, "kind", m.Kind, "run_id", m.RunID,
		"mention", m.Mention, "text", m.Text)
	return nil
}
