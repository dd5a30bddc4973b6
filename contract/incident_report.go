package contract

import (
	"time"
)

// Report is the artifact of a run, for every runbook: the post-incident document's content.
type Report struct {
	WorkflowID string   `json:"workflow_id"`
	Runbook    string   `json:"runbook"`
	Targets    []string `json:"targets"`
	Outcome    string   `json:"outcome"`
	Summary    string   `json:"summary"`
	FollowUps  []string `json:"follow_ups,omitempty"`
	// Actions lists who did each action: the accepted decisions and the measures applied.
	Actions       []ReportAction `json:"actions"`
	ConfigChanges []ConfigChange `json:"config_changes"`
	Validations   []Validation   `json:"validations"`
	Timeline      []Event        `json:"timeline"`
	// Archived are the timeline parts the run archived; a report made from them has them back
	// in Timeline.
	Archived  []ArtifactRef `json:"archived,omitempty"`
	Artifacts []ArtifactRef `json:"artifacts,omitempty"`
	// Kept are the measures left in force past the run, each with its owner and expiry.
	Kept []KeptMeasure `json:"kept,omitempty"`
}

// KeptMeasure is a measure an incident left in force when it resolved.
type KeptMeasure struct {
	ActionID   string    `json:"action_id"`
	Item       string    `json:"item"`
	Target     string    `json:"target"`
	Owner      string    `json:"owner"`
	ApprovedBy string    `json:"approved_by"`
	Until      time.Time `json:"until"`
}

// ReportAction is one thing someone did, with when.
type ReportAction struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// IncidentResult is the incident's result: its report.
type IncidentResult = Report
