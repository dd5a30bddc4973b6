package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeepAction is the action id that approves or rejects a resolve that keeps measures
// (starter approve ID --action keep).
const KeepAction = "keep"

// PendingKeep is a resolve that keeps measures past the incident, waiting for an approver of
// their targets besides the one who asked.
type PendingKeep struct {
	By        string         `json:"by"`
	AskedAt   time.Time      `json:"asked_at"`
	Request   ResolveRequest `json:"request"`
	Measures  []string       `json:"measures"`
	Until     time.Time      `json:"until"`
	Approvers []string       `json:"approvers"`
	// State is pending, approved or rejected; Detail the gate's progress or who rejected.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Digest names what a keep approval agrees to: who resolves, the measures kept, until when, and
// the resolve itself. An approval of the keep action carries it, so it cannot apply to another.
func (k PendingKeep) Digest() string {
	return digestJSON(struct {
		By       string         `json:"by"`
		Measures []string       `json:"measures"`
		Until    time.Time      `json:"until"`
		Request  ResolveRequest `json:"request"`
	}{k.By, k.Measures, k.Until.UTC(), k.Request})
}

// ResolveRequest is Decision.Args of an incident's resolve.
type ResolveRequest struct {
	Summary   string   `json:"summary"`
	FollowUps []string `json:"follow_ups,omitempty"`
	// Keep names measure kinds left in force (deny-cidr, log-level); it needs an approver
	// besides the one who resolves. KeepFor is how long they stay (zero: incident.keep_for).
	Keep    []string      `json:"keep,omitempty"`
	KeepFor time.Duration `json:"keep_for,omitempty"`
}

// Validate checks a resolve request.
func (r ResolveRequest) Validate() error {
	var errs []error
	if strings.TrimSpace(r.Summary) == "" {
		errs = append(errs, errors.New("resolve needs a final summary (--summary)"))
	}
	errs = append(errs, CheckNote(r.Summary))
	for _, f := range r.FollowUps {
		errs = append(errs, CheckNote(f))
	}
	switch {
	case r.KeepFor < 0:
		errs = append(errs, errors.New("--keep-for must not be negative"))
	case r.KeepFor > MaxKeepFor:
		errs = append(errs, fmt.Errorf("--keep-for is at most %s (30 days), got %s", MaxKeepFor, r.KeepFor))
	case r.KeepFor > 0 && len(r.Keep) == 0:
		errs = append(errs, errors.New("--keep-for needs --keep: it says how long the kept measures stay"))
	}
	for _, k := range r.Keep {
		switch k {
		case ContainDenyCIDR, ContainLogLevel:
		case "freeze":
			// The freeze lives on the running incident; kept past its close it would have no owner.
			errs = append(errs, errors.New("the freeze always lifts at resolve: it lives on the running incident; keep it by keeping the incident open"))
		default:
			errs = append(errs, fmt.Errorf("--keep takes deny-cidr or log-level, not %q", CleanText(k)))
		}
	}
	return errors.Join(errs...)
}
