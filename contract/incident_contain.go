package contract

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ContainRequest is one containment action, asked for by the owner (Decision.Args of a contain).
type ContainRequest struct {
	Kind string `json:"kind"`
	// Target is required for invalidate and rotate when the incident affects several targets;
	// the other kinds apply to every affected target when it is empty.
	Target string   `json:"target,omitempty"`
	Users  []string `json:"users,omitempty"`
	CIDRs  []string `json:"cidrs,omitempty"`
	// TTL lifts a denied range on its own; zero keeps it until resolve.
	TTL   time.Duration `json:"ttl,omitempty"`
	Level string        `json:"level,omitempty"`
	// Force lets a range through that would lock out everyone or the worker's own probes.
	Force bool `json:"force,omitempty"`
	// Restrict are route prefixes an invalidation closes meanwhile, for RestrictTTL.
	Restrict    []string      `json:"restrict,omitempty"`
	RestrictTTL time.Duration `json:"restrict_ttl,omitempty"`
	Reason      string        `json:"reason,omitempty"`
}

// LogLevels the control API takes.
var LogLevels = []string{"debug", "info", "warn", "error"}

var userPattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

// Validate checks a request's shape; whether its target and users exist is the run's to judge.
func (r ContainRequest) Validate() error {
	var errs []error
	need := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	switch r.Kind {
	case ContainLogoutAll:
	case ContainLogoutUsers, ContainRequireReset:
		need(len(r.Users) > 0, r.Kind+" needs at least one user")
		for _, u := range r.Users {
			need(userPattern.MatchString(u), fmt.Sprintf("user %q is not a user name", CleanText(u)))
		}
	case ContainDenyCIDR:
		need(len(r.CIDRs) > 0, "deny-cidr needs at least one CIDR")
		need(r.TTL >= 0, "ttl must not be negative")
	case ContainLogLevel:
		need(slices.Contains(LogLevels, r.Level), fmt.Sprintf("log level must be one of %s, got %q", strings.Join(LogLevels, ", "), CleanText(r.Level)))
	case ContainInvalidate, ContainRotate:
		if len(r.Restrict) > 0 {
			if err := ValidatePrefixes(r.Restrict); err != nil {
				errs = append(errs, fmt.Errorf("restrict: %w", err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("unknown action %q (known: %s)", CleanText(r.Kind), strings.Join(ContainKinds, ", ")))
	}
	errs = append(errs, CheckText("reason", r.Reason), CheckText("target", r.Target))
	return errors.Join(errs...)
}

// Undoable reports whether a measure of this kind is temporary and undone at resolve.
func (r ContainRequest) Undoable() bool {
	return r.Kind == ContainDenyCIDR || r.Kind == ContainLogLevel
}

// Describe says what the request does, for the timeline.
func (r ContainRequest) Describe() string {
	s := r.Kind
	switch r.Kind {
	case ContainLogoutUsers, ContainRequireReset:
		s += " " + strings.Join(r.Users, ",")
	case ContainDenyCIDR:
		s += " " + strings.Join(r.CIDRs, ",")
		if r.TTL > 0 {
			s += " for " + r.TTL.String()
		}
	case ContainLogLevel:
		s += " " + r.Level
	}
	if r.Target != "" {
		s += " on " + r.Target
	}
	return CleanText(s)
}

// PendingAction is a containment action waiting for approval, or decided.
type PendingAction struct {
	ID        string         `json:"id"`
	Request   ContainRequest `json:"request"`
	Asker     string         `json:"asker"`
	AskedAt   time.Time      `json:"asked_at"`
	Quorum    int            `json:"quorum"`
	Approvals []string       `json:"approvals,omitempty"`
	// Approvers are who may approve it: the approvers of every target it acts on (empty in
	// runs from before; then the policy's Approvers). Why says why it needs a second person
	// when the config asked for none.
	Approvers []string `json:"approvers,omitempty"`
	Why       string   `json:"why,omitempty"`
	// State is pending, approved, rejected, applied or failed.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Measure is a containment measure in force (or undone at resolve).
type Measure struct {
	ActionID string         `json:"action_id"`
	Request  ContainRequest `json:"request"`
	Target   string         `json:"target"`
	By       string         `json:"by"`
	At       time.Time      `json:"at"`
	// Previous is what an undo restores (the log level before).
	Previous string `json:"previous,omitempty"`
	// Expires is when a TTL lifts a denied range on its own.
	Expires time.Time `json:"expires,omitempty"`
	// Undone says when it was undone; Kept that resolve kept it on purpose.
	Undone time.Time `json:"undone,omitempty"`
	Kept   bool      `json:"kept,omitempty"`
	// KeptBy owns a kept measure past the incident (who resolved), KeptApprovedBy is the second
	// person who agreed, and KeptUntil is when it is due to be lifted.
	KeptBy         string    `json:"kept_by,omitempty"`
	KeptApprovedBy string    `json:"kept_approved_by,omitempty"`
	KeptUntil      time.Time `json:"kept_until,omitempty"`
}

// ActionRef is Decision.Args of an approve or reject that names a pending action.
type ActionRef struct {
	Action string `json:"action"`
	// Digest is the named action's ContainRequest.Digest as the approver read it from the run:
	// an approval is bound to that content.
	Digest string `json:"digest,omitempty"`
}
