package contract

// Inputs and results of runbook 1's activities. They carry names, fingerprints and probe
// outcomes only.

// IncidentTargetInput names one affected target of an incident.
type IncidentTargetInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
}

// MeasureInput is one containment measure on one target.
type MeasureInput struct {
	Incident string         `json:"incident"`
	ActionID string         `json:"action_id"`
	Target   string         `json:"target"`
	Request  ContainRequest `json:"request"`
	// Previous is what an undo restores (the log level before the measure).
	Previous string `json:"previous,omitempty"`
}

// MeasureResult says what a measure (or its undo) did, read back from the backend's state.
type MeasureResult struct {
	Detail string `json:"detail"`
	// Previous is the value the measure replaced (the log level before), for its undo.
	Previous string `json:"previous,omitempty"`
}

// IncidentVerifyInput is what the verification checklist expects of one target.
type IncidentVerifyInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
	// ResetUsers must be refused with 403 at login; DeniedCIDRs refused from inside the range.
	ResetUsers  []string `json:"reset_users,omitempty"`
	DeniedCIDRs []string `json:"denied_cidrs,omitempty"`
}

// ReportInput is a run's report to write as artifacts.
type ReportInput struct {
	WorkflowID string `json:"workflow_id"`
	Report     Report `json:"report"`
}

// ArchiveInput is a part of an incident's timeline to archive before continue-as-new.
type ArchiveInput struct {
	Incident string  `json:"incident"`
	Part     int     `json:"part"`
	Events   []Event `json:"events"`
}

// FreezeInput asks whether an incident other than Exempt freezes Target.
type FreezeInput struct {
	Target string `json:"target"`
	Exempt string `json:"exempt,omitempty"`
}

// IncidentChannelInput asks for an incident's dedicated channel.
type IncidentChannelInput struct {
	Incident string `json:"incident"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	// People are the names to invite: the reporter, the owner and the approvers.
	People []string `json:"people"`
	// LinkFrom is the channel that gets the link to the new one (the target's).
	LinkFrom string `json:"link_from"`
}

// IncidentInviteInput asks to invite people to an incident's channel (a new owner).
type IncidentInviteInput struct {
	ChannelID string   `json:"channel_id"`
	People    []string `json:"people"`
}

// IncidentInviteResult says who was invited and who was not, with why.
type IncidentInviteResult struct {
	Invited []string `json:"invited,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}
