package contract

// Inputs and results of the Slack activities of the notification workflow.

// SlackParentInput names a run's parent message; an empty TS posts it.
type SlackParentInput struct {
	Channel    string `json:"channel"`
	ChannelID  string `json:"channel_id,omitempty"`
	WorkflowID string `json:"workflow_id"`
	FirstRunID string `json:"first_run_id"`
	TS         string `json:"ts,omitempty"`
	Hash       string `json:"hash,omitempty"`
}

// SlackParentResult is the parent message as it now stands.
type SlackParentResult struct {
	ChannelID string `json:"channel_id"`
	TS        string `json:"ts"`
	Hash      string `json:"hash"`
	// Updated says chat.update was called.
	Updated bool `json:"updated,omitempty"`
	Closed  bool `json:"closed,omitempty"`
	// RequesterSlackID and Outcome are set when the run has closed: the direct message to send.
	RequesterSlackID string `json:"requester_slack_id,omitempty"`
	Outcome          string `json:"outcome,omitempty"`
}

// SlackReplyInput is an announcement for a run's thread.
type SlackReplyInput struct {
	ChannelID string  `json:"channel_id"`
	ThreadTS  string  `json:"thread_ts"`
	Key       string  `json:"key"`
	Message   Message `json:"message"`
	// Broadcast also shows the reply in the channel.
	Broadcast bool `json:"broadcast,omitempty"`
}

// SlackDirectInput is a direct message to one person.
type SlackDirectInput struct {
	UserID string `json:"user_id"`
	Text   string `json:"text"`
	Key    string `json:"key"`
}

// UserNoticeInput is a notice for the users of a target.
type UserNoticeInput struct {
	Target string `json:"target"`
	Kind   string `json:"kind"`
	Key    string `json:"key"`
}

// UserNoticeResult says where the notice went.
type UserNoticeResult struct {
	Channel bool `json:"channel,omitempty"`
	Webhook bool `json:"webhook,omitempty"`
}
