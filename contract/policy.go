package contract

import (
	"time"
)

// VersionRef names a secret version without revealing it.
type VersionRef struct {
	ID          string `json:"id"`
	Fingerprint string `json:"fingerprint"`
}

// Policy is the part of a target's config the workflows need: no secrets in it.
type Policy struct {
	Target                   string        `json:"target"`
	BaseURL                  string        `json:"base_url"`
	Channel                  string        `json:"channel"`
	Approvers                []string      `json:"approvers"`
	ApprovalTimeout          time.Duration `json:"approval_timeout"`
	ReminderInterval         time.Duration `json:"reminder_interval"`
	ObservationWindow        time.Duration `json:"observation_window"`
	ClosedWindow             string        `json:"closed_window"`
	EmergencyApprovalTimeout time.Duration `json:"emergency_approval_timeout"`
	DeployTimeout            time.Duration `json:"deploy_timeout"`
	// People are everyone who may request or decide, with their public keys; GatewayKeys are the
	// Slack gateway's. Decisions are verified against these, loaded once at the run's start.
	People      []Person `json:"people,omitempty"`
	GatewayKeys []string `json:"gateway_keys,omitempty"`
	// Quorums: distinct approvers needed, the requester never counted.
	RotationQuorum  int `json:"rotation_quorum,omitempty"`
	EmergencyQuorum int `json:"emergency_quorum,omitempty"`
	// ApprovalValidity is how long an approval given before the window opens stays valid.
	ApprovalValidity time.Duration `json:"approval_validity,omitempty"`
	// MaxWindowAhead bounds how far ahead a rotation window may start.
	MaxWindowAhead time.Duration `json:"max_window_ahead,omitempty"`
	// Timeouts bound the run's activities (zero fields: the defaults).
	Timeouts Timeouts `json:"timeouts,omitempty"`
	// Freeze is what a rotation does on a target an incident froze: FreezeRefuse or FreezeWait.
	Freeze string `json:"freeze,omitempty"`
}

// Timeouts bound a run's activities; a zero field keeps the workflow's default.
type Timeouts struct {
	Activity  time.Duration `json:"activity,omitempty"`
	Check     time.Duration `json:"check,omitempty"`
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
}

// Freeze modes of a target.
const (
	FreezeRefuse = "refuse"
	FreezeWait   = "wait"
)

// Check is one pre-rotation check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}
