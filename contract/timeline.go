package contract

import (
	"time"
)

// Event is one line of the UTC timeline: who did what, and how it went.
type Event struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
	// Decision events only: Verified says the actor was proven by a signed statement; Via names the
	// transport ("update", "signal") and "slack" when the gateway signed; UpdateID lets a reader find
	// the client identity Temporal recorded for the request.
	Verified bool   `json:"verified,omitempty"`
	Via      string `json:"via,omitempty"`
	UpdateID string `json:"update_id,omitempty"`
}

// Step states of the checklist.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
	StateSkipped = "skipped"
)

// Step is one item of a runbook checklist.
type Step struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	At    time.Time `json:"at,omitempty"`
}

// Status answers the status query.
type Status struct {
	Runbook     string `json:"runbook"`
	Target      string `json:"target"`
	Phase       string `json:"phase"`
	RequestedBy string `json:"requested_by"`
	ApprovedBy  string `json:"approved_by,omitempty"`
	// Approvals says where the quorum stands: "approvals 1 of 2: bob; waiting for one more of: carol".
	Approvals  string   `json:"approvals,omitempty"`
	BreakGlass bool     `json:"break_glass,omitempty"`
	Outcome    string   `json:"outcome,omitempty"`
	Checklist  []Step   `json:"checklist"`
	Active     []string `json:"active_controls,omitempty"`
}
