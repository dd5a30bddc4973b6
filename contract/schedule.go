package contract

import (
	"time"
)

// ScheduledRotationInput is what a Temporal Schedule starts for routine key hygiene.
type ScheduledRotationInput struct {
	Target string `json:"target"`
	// Window is how long the rotation may take to get approved and run.
	Window        time.Duration `json:"window"`
	RollbackOwner string        `json:"rollback_owner,omitempty"`
	Schedule      string        `json:"schedule"`
}

// ScheduledRotationResult says which rotation was started, or why none was.
type ScheduledRotationResult struct {
	RotationID string `json:"rotation_id"`
	RunID      string `json:"run_id,omitempty"`
	Skipped    string `json:"skipped,omitempty"`
}

// ScheduleID is the id of the rotation schedule of a target.
func ScheduleID(target string) string { return "rotation-schedule-" + target }

// ScheduledRotationWorkflowID is the id the schedule gives its ScheduledRotation runs (Temporal
// appends the firing time); a scheduled rotation checks its parent's id against it.
func ScheduledRotationWorkflowID(target string) string { return "scheduled-rotation-" + target }
