package contract

import "time"

// Statement is what a person signs to start a run or to decide in one. The run verifies it
// against the public keys of the people in the policy it loaded at its start; a name typed on a
// command line is never authority by itself.
type Statement struct {
	Namespace  string `json:"namespace"`
	WorkflowID string `json:"workflow_id"`
	// FirstRunID is the run's first execution run id, so that a statement still holds after
	// continue-as-new. It is empty for a start, whose run id does not exist yet.
	FirstRunID string `json:"first_run_id,omitempty"`
	// Action is the decision (approve, reject, rollback, resolve, lift-restrictions, cancel) or
	// start:<runbook>, with "+break-glass" for an emergency start without a second person.
	Action string `json:"action"`
	Actor  string `json:"actor"`
	// CommentHash is the hex SHA-256 of the comment (of the reason, for a start), so a comment
	// cannot be swapped under a signature.
	CommentHash string    `json:"comment_hash"`
	IssuedAt    time.Time `json:"issued_at"`
	Nonce       string    `json:"nonce"`
	// Client is the sender's client identity, as the signer claims it.
	Client string `json:"client"`
	// Via is "slack" when the gateway signed on behalf of a person; SlackUser is the Slack user
	// id that Slack verified for the click.
	Via       string `json:"via,omitempty"`
	SlackUser string `json:"slack_user,omitempty"`
}

// SignedStatement is a statement with an SSH signature over its canonical encoding.
type SignedStatement struct {
	Statement Statement `json:"statement"`
	// Key is the signer's public key in authorized_keys form.
	Key string `json:"key"`
	// SigFormat and Sig are the ssh.Signature's format and blob.
	SigFormat string `json:"sig_format"`
	Sig       []byte `json:"sig"`
}

// Person is someone who may request, decide or own a run. Names are canonical: lower case,
// matching PersonNamePattern, so no two people differ by case, spaces or look-alike letters.
type Person struct {
	Name    string `json:"name"`
	SlackID string `json:"slack_id,omitempty"`
	// Keys are public keys in authorized_keys form.
	Keys []string `json:"keys"`
}

// PersonNamePattern is the form of a person's name.
const PersonNamePattern = `^[a-z][a-z0-9._-]{0,31}$`

// Unattended requesters: honoured only where a run is started by a machine (a schedule, an
// alert through the gateway). They never approve, break glass or count toward a quorum.
const (
	RequesterSchedulePrefix = "schedule:"
	RequesterAlertPrefix    = "alert:"
)

// Start actions, signed by whoever starts a run.
const (
	ActionStartRotation     = "start:secret-rotation"
	ActionStartInvalidation = "start:emergency-invalidation"
	BreakGlassSuffix        = "+break-glass"
	// ActionSettleSecret starts a SecretSettle run: an approver marks a stale pending secret
	// version failed.
	ActionSettleSecret = "start:secret-settle"
)
