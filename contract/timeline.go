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
	Runbook     string   `json:"runbook"`
	Target      string   `json:"target"`
	Phase       string   `json:"phase"`
	RequestedBy string   `json:"requested_by"`
	ApprovedBy  string   `json:"approved_by,omitempty"`
	BreakGlass  bool     `json:"break_glass,omitempty"`
	Outcome     string   `json:"outcome,omitempty"`
	Checklist   []Step   `json:"checklist"`
	Active      []string `json:"active_controls,omitempty"`
}
