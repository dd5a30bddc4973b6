package contract

// Error types of the activities' ApplicationErrors, which workflows and retry policies recognise.
const (
	// ErrTypeConfig is a target or worker config that cannot work: retrying changes nothing.
	ErrTypeConfig = "ConfigError"
	// ErrTypeConflict is a state the run must not resolve by itself (drift, another run's
	// pending version, a refused report).
	ErrTypeConflict = "StateConflict"
	// ErrTypeSlackPermanent is a Slack error that retrying will not fix (a channel the bot is not
	// in, a revoked token): the notification is dropped, and the rest go on.
	ErrTypeSlackPermanent = "SlackPermanent"
	// ErrTypeSlackRateLimited is a rate limit; the retry waits as long as Slack asked.
	ErrTypeSlackRateLimited = "SlackRateLimited"
	// ErrTypeRunGone is a run Temporal no longer knows (past retention).
	ErrTypeRunGone = "RunGone"
)
