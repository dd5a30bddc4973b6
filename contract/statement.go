package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

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
	CommentHash string `json:"comment_hash"`
	// ArgsHash is the hex SHA-256 of the decision's Args, or of a start's StartArgs (the input
	// as its signer chose it), and empty when there are none. It is a field of its own, so that
	// no comment can stand in for arguments.
	ArgsHash string    `json:"args_hash,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	Nonce    string    `json:"nonce"`
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

// A start statement binds, besides its reason, the start input as its signer chose it: the
// StartArgs below are its canonical JSON, without the statement itself and without the fields
// a run fills in (a default, the parent's bookkeeping). A start statement replayed with another
// window, owner, route, TTL, break glass or target is then refused.

// startJSON is the canonical JSON of v: a struct with a fixed field order, so the same input is
// the same text on the signer's and the run's side.
func startJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal start args %T: %v", v, err))
	}
	return string(b)
}

// digestJSON is the hex SHA-256 of v's canonical JSON (startJSON): what a signature or a seal
// binds a request, a keep or a message to.
func digestJSON(v any) string {
	sum := sha256.Sum256([]byte(startJSON(v)))
	return hex.EncodeToString(sum[:])
}

// utc is t in UTC, so that the zone a signer's clock prints in is no part of what is signed.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// orNil is s, or nil when it is empty: JSON drops an empty list on the way to the run.
func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// StartArgs is what a rotation's start statement binds (ArgsHash). ApprovedBy, Restricted,
// CutoverOf and the probe times are the emergency parent's, which starts without a statement.
func (in RotationInput) StartArgs() string {
	return startJSON(struct {
		Target        string        `json:"target"`
		Reason        string        `json:"reason"`
		RequestedBy   string        `json:"requested_by"`
		WindowStart   time.Time     `json:"window_start"`
		Window        time.Duration `json:"window"`
		RollbackOwner string        `json:"rollback_owner"`
		Mode          string        `json:"mode"`
		IncidentID    string        `json:"incident_id"`
	}{in.Target, in.Reason, in.RequestedBy, utc(in.WindowStart), in.Window, in.RollbackOwner, in.Mode, in.IncidentID})
}

// StartArgs is what an emergency run's start statement binds (ArgsHash).
func (in InvalidationInput) StartArgs() string {
	return startJSON(struct {
		Target           string        `json:"target"`
		Trigger          string        `json:"trigger"`
		Reason           string        `json:"reason"`
		RequestedBy      string        `json:"requested_by"`
		IncidentID       string        `json:"incident_id"`
		Restrict         []string      `json:"restrict"`
		RestrictTTL      time.Duration `json:"restrict_ttl"`
		RestrictStatus   int           `json:"restrict_status"`
		KeepRestrictions bool          `json:"keep_restrictions"`
		BreakGlass       bool          `json:"break_glass"`
	}{in.Target, in.Trigger, in.Reason, in.RequestedBy, in.IncidentID, orNil(in.Restrict), in.RestrictTTL,
		in.RestrictStatus, in.KeepRestrictions, in.BreakGlass})
}

// StartArgs is what an incident's start statement binds (ArgsHash). State is carried by the
// incident's own continue-as-new, which verifies no start.
func (in IncidentInput) StartArgs() string {
	return startJSON(struct {
		Trigger  string   `json:"trigger"`
		Severity string   `json:"severity"`
		Summary  string   `json:"summary"`
		Reporter string   `json:"reporter"`
		Source   string   `json:"source"`
		Targets  []string `json:"targets"`
	}{in.Trigger, in.Severity, in.Summary, in.Reporter, in.Source, orNil(in.Targets)})
}

// IncidentInvalidation is the emergency run an incident's invalidate action starts: the
// incident builds it, and the asker's CLI builds the same to sign its start.
func IncidentInvalidation(incidentID, incidentTrigger, asker string, req ContainRequest) InvalidationInput {
	ttl := req.RestrictTTL
	if len(req.Restrict) > 0 && ttl == 0 {
		ttl = time.Hour
	}
	return InvalidationInput{Target: req.Target, Trigger: EmergencyTrigger(incidentTrigger), Reason: req.Reason,
		RequestedBy: asker, IncidentID: incidentID, Restrict: req.Restrict, RestrictTTL: ttl}
}

// IncidentRotation is the rotation an incident's rotate action starts (see IncidentInvalidation).
func IncidentRotation(incidentID, asker string, req ContainRequest) RotationInput {
	return RotationInput{Target: req.Target, Reason: req.Reason, RequestedBy: asker, Mode: ModeManual, IncidentID: incidentID}
}

// EmergencyTrigger maps an incident's trigger to runbook 3's.
func EmergencyTrigger(incidentTrigger string) string {
	if incidentTrigger == "auth-error-spike" {
		return TriggerAuthRegression
	}
	return TriggerTokenAbuse
}

// Digest is the hex SHA-256 of the request's canonical JSON: an approval names it
// (ActionRef.Digest), so it approves exactly the content the approver saw.
func (r ContainRequest) Digest() string { return digestJSON(r) }
