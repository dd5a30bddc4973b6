package contract

import (
	"time"
)

// ActionRule is who may ask for a containment action and how many approvers, besides the
// asker, it needs. Who holds "owner", "approvers" or people's names.
type ActionRule struct {
	Who    []string `json:"who"`
	Quorum int      `json:"quorum"`
}

// IncidentPolicy is the part of the config an incident needs: no secrets in it.
type IncidentPolicy struct {
	// Targets are every configured target; Approvers the union of their approvers.
	Targets   []string `json:"targets"`
	Approvers []string `json:"approvers"`
	// TargetApprovers are each target's own approvers: a gate counts only those of the targets
	// its measure acts on. Nil in runs declared before it (then every target has Approvers).
	TargetApprovers map[string][]string `json:"target_approvers,omitempty"`
	// Owners may take an incident besides the approvers of an affected target (incident.owners).
	Owners []string `json:"owners,omitempty"`
	// ResetWithoutQuorum is how many accounts a require-reset may name without a second person
	// (incident.reset_without_quorum); AdminAccounts are the accounts a reset of always needs one.
	ResetWithoutQuorum int      `json:"reset_without_quorum"`
	AdminAccounts      []string `json:"admin_accounts,omitempty"`
	// DenyWithoutQuorum is the widest range a deny-cidr may name without a second person
	// (incident.deny_without_quorum); zero fields are the defaults.
	DenyWithoutQuorum DenyWidth `json:"deny_without_quorum"`
	// KeepFor is how long a measure kept past resolve stays by default (incident.keep_for).
	KeepFor time.Duration `json:"keep_for,omitempty"`
	Channel string        `json:"channel"`
	// DedicatedChannel has a declaration open #inc-<id> for the incident's messages, with a
	// link from Channel (config incident.dedicated_channel).
	DedicatedChannel bool     `json:"dedicated_channel,omitempty"`
	People           []Person `json:"people,omitempty"`
	GatewayKeys      []string `json:"gateway_keys,omitempty"`
	// OwnerAck is how long the run waits for someone to take ownership before it escalates;
	// FirstSteps is the runbook's 15-minute clock.
	OwnerAck   time.Duration `json:"owner_ack"`
	FirstSteps time.Duration `json:"first_steps"`
	// StatusEvery is the status-update cadence by severity.
	StatusEvery map[string]time.Duration `json:"status_every"`
	Actions     map[string]ActionRule    `json:"actions"`
	// HistoryLimit is the history length (events) past which the run continues as new.
	HistoryLimit int `json:"history_limit"`
	// Timeouts bound the run's activities (zero fields: the defaults).
	Timeouts Timeouts `json:"timeouts,omitempty"`
}

// DenyWidth is a prefix length per address family: a range wider (shorter) than it needs a
// second person.
type DenyWidth struct {
	IPv4 int `json:"ipv4"`
	IPv6 int `json:"ipv6"`
}

// Defaults of the second-person rules (config incident.*).
const (
	DefaultResetWithoutQuorum = 5
	DefaultDenyWithoutQuorum4 = 16
	DefaultDenyWithoutQuorum6 = 48
	DefaultKeepFor            = 24 * time.Hour
	// MaxKeepFor bounds how long a measure may be kept past its incident.
	MaxKeepFor = 30 * 24 * time.Hour
)
