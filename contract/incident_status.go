package contract

import (
	"time"
)

// IncidentStatus answers QueryIncident.
type IncidentStatus struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger"`
	Severity   string    `json:"severity"`
	Summary    string    `json:"summary"`
	Reporter   string    `json:"reporter"`
	Source     string    `json:"source"`
	Owner      string    `json:"owner"`
	Targets    []string  `json:"targets"`
	Frozen     []string  `json:"frozen"`
	DeclaredAt time.Time `json:"declared_at"`
	// LastStatusUpdate is when the last status update (a note sent with --status) came.
	LastStatusUpdate time.Time       `json:"last_status_update,omitempty"`
	Pending          []PendingAction `json:"actions,omitempty"`
	// Keeping is a resolve that keeps measures, waiting for its approval.
	Keeping   *PendingKeep `json:"keeping,omitempty"`
	Measures  []Measure    `json:"measures,omitempty"`
	Children  []ChildRun   `json:"children,omitempty"`
	Snapshots []Snapshot   `json:"snapshots,omitempty"`
	Outcome   string       `json:"outcome,omitempty"`
	// Channel is the incident's dedicated Slack channel, once created (nil: its messages go to
	// the target's channel).
	Channel *IncidentChannel `json:"channel,omitempty"`
	// Phase and Checklist are the run's, as the status query shows them for every runbook.
	Phase     string `json:"phase,omitempty"`
	Checklist []Step `json:"checklist,omitempty"`
}

// IncidentChannel is an incident's dedicated Slack channel (incident.dedicated_channel).
type IncidentChannel struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Invited are the people invited to it; Skipped those who were not, each with why (no
	// slack_id in people:, or Slack's refusal).
	Invited []string `json:"invited,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
	// LinkedFrom is the channel that got the link to it.
	LinkedFrom string `json:"linked_from,omitempty"`
}

// IncidentChannelName is the name of an incident's dedicated channel: inc-<id>. Incident ids
// (incident-[a-z0-9-]{1,40}) are valid Slack channel names as they are.
func IncidentChannelName(id string) string { return "inc-" + id }

// Snapshot is a target's environment and auth settings at declaration, with every value
// replaced by its fingerprint.
type Snapshot struct {
	Target string    `json:"target"`
	At     time.Time `json:"at"`
	// Config maps each config key to its value's fingerprint.
	Config  map[string]string `json:"config"`
	Secret  VersionRef        `json:"secret"`
	Healthz string            `json:"healthz"`
	// Controls is the backend's control state as it reported it (no secrets in it).
	Controls ControlState      `json:"controls"`
	Deploy   map[string]string `json:"deploy"`
	// ProbeFrom are the local addresses the worker's probes reach the target from.
	ProbeFrom []string `json:"probe_from"`
	// Artifact is where the snapshot was written, and its SHA-256.
	Artifact ArtifactRef `json:"artifact"`
}

// ControlState is the backend's control state.
type ControlState struct {
	ActiveSessions     int       `json:"active_sessions"`
	RevokedSessions    int       `json:"revoked_sessions"`
	RevokedBefore      time.Time `json:"revoked_before,omitempty"`
	PasswordResetUsers []string  `json:"password_reset_users"`
	LogLevel           string    `json:"log_level"`
	RestrictedRoutes   []string  `json:"restricted_routes"`
	DeniedCIDRs        []string  `json:"denied_cidrs"`
}

// ArtifactRef is a file the runbook wrote, named by path and SHA-256.
type ArtifactRef struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	// Events counts the timeline events in an archived part.
	Events int `json:"events,omitempty"`
}

// IncidentState is what an incident carries across continue-as-new.
type IncidentState struct {
	Status    IncidentStatus `json:"status"`
	Checklist []Step         `json:"checklist"`
	Timeline  []Event        `json:"timeline"`
	// Archived are older timeline parts written to the artifacts directory.
	Archived []ArtifactRef `json:"archived,omitempty"`
	// Nonces are the statement nonces seen, so a decision cannot be replayed into the new run.
	Nonces    map[string]time.Time `json:"nonces"`
	NextID    int                  `json:"next_id"`
	Escalated []string             `json:"escalated,omitempty"`
	Validated []Validation         `json:"validations,omitempty"`
	// LastReminder is when the owner was last reminded of a status update.
	LastReminder time.Time `json:"last_reminder,omitempty"`
	// Actions are who did what in the archived timeline parts, for the report.
	Actions []ReportAction `json:"actions,omitempty"`
}
