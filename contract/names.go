// Package contract is what both sides of authops share: inputs, results, update, signal and query
// names, decisions, timeline events and status. It depends on no adapter and no activity, so the
// starter (CLI, gateway) links nothing that can touch a secret.
package contract

import "go.temporal.io/sdk/temporal"

// TaskQueue is the queue of routine work: rotations, incidents, schedules, notifications.
const TaskQueue = "authops"

// EmergencyTaskQueue is the queue of the emergency runbook (the invalidation run, its
// activities and its child rotation). The worker serves it with its own pollers, slots and
// sticky cache, so emergency work never waits behind routine rotations; every worker polls
// both queues with the same registrations.
const EmergencyTaskQueue = "authops-emergency"

// EmergencyPriority is the task priority of emergency work (the invalidation run, its activities
// and its child rotation): 1 is the highest of Temporal's default five levels, routine runs keep
// the default 3. The server honours it with matching.useNewMatcher=true (Temporal 1.29).
var EmergencyPriority = temporal.Priority{PriorityKey: 1}

// Decision (Update), signal and query names. They are the public API of a run: the CLI, the Slack
// gateway, `temporal workflow update` and the Web UI all use them. Preempt and rotation-released
// are signals between runs; the Decision names are Updates a person sends.
const (
	DecisionApprove          = "approve"
	DecisionReject           = "reject"
	DecisionRollback         = "rollback"
	DecisionResolve          = "resolve"
	DecisionLiftRestrictions = "lift-restrictions"
	DecisionCancel           = "cancel"

	SignalPreempt = "preempt"
	// SignalRotationReleased tells an emergency run that the rotation it preempted has closed.
	SignalRotationReleased = "rotation-released"

	QueryStatus   = "status"
	QueryTimeline = "timeline"
)

// Search attributes, registered on the dev server by `make up` and the test harness.
var (
	AttrTarget     = temporal.NewSearchAttributeKeyKeyword("AuthopsTarget")
	AttrRunbook    = temporal.NewSearchAttributeKeyKeyword("AuthopsRunbook")
	AttrBreakGlass = temporal.NewSearchAttributeKeyBool("AuthopsBreakGlass")
)

// Decision is the payload of every human decision (approve, reject, rollback, resolve,
// lift-restrictions, cancel), sent as an Update: the sender gets the run's answer. One sent as a plain signal is judged the same way.
// Only a valid Statement makes it count; Actor is what the sender typed and is shown, never trusted.
type Decision struct {
	Actor   string `json:"actor"`
	Comment string `json:"comment,omitempty"`
	// Args is a decision's canonical JSON arguments (an incident's contain request, the action an
	// approve names); the statement signs Comment and Args as separate fields.
	Args      string           `json:"args,omitempty"`
	Statement *SignedStatement `json:"statement,omitempty"`
	// Start is a signed start for the child run the decision starts (an incident's invalidate
	// or rotate): the child verifies it as any start.
	Start *SignedStatement `json:"start,omitempty"`
}

// ErrTypeDecisionDenied is the ApplicationError type of a refused decision; its details hold the
// timeline Event that records the refusal.
const ErrTypeDecisionDenied = "DecisionDenied"

// Released is what a preempted rotation tells the emergency run when it closes.
type Released struct {
	RotationID string `json:"rotation_id"`
	Outcome    string `json:"outcome"`
	// Seal proves a worker sent it for the rotation run (contract.PeerSeal).
	Seal *PeerSeal `json:"seal,omitempty"`
}

// Preemption is sent to a rotation that an emergency run is about to cancel.
type Preemption struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
	// Seal proves a worker sent it for the emergency run By (contract.PeerSeal).
	Seal *PeerSeal `json:"seal,omitempty"`
}

// RotationID is the workflow id of the rotation of a target. One id per target makes Temporal
// itself refuse a second concurrent rotation.
func RotationID(target string) string { return "rotation-" + target }

// SearchAttributes lists every key, for registering them.
func SearchAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		AttrTarget.ValueSet(""), AttrRunbook.ValueSet(""), AttrBreakGlass.ValueSet(false),
		AttrFrozenTargets.ValueSet(nil))
}

// Workflow type names, for clients that start runs without linking the workflow code.
const (
	WorkflowSecretRotation        = "SecretRotation"
	WorkflowEmergencyInvalidation = "EmergencyInvalidation"
	WorkflowScheduledRotation     = "ScheduledRotation"
)
