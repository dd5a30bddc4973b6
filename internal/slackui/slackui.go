// Package slackui is what the worker's Slack notifier and the gateway share about the messages
// they exchange: the ids of the interactive elements and the value a button carries. A button's
// value is only a pointer to a run; the gateway turns a verified click into a signed decision,
// and the run judges it.
package slackui

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/authops/authops/contract"
)

// Action ids of the approval buttons, and the callback id of the reject-reason modal and of the
// incident declaration modal.
const (
	ActionApprove       = "authops_approve"
	ActionReject        = "authops_reject"
	CallbackRejectModal = "authops_reject_reason"
	CallbackDeclare     = "authops_incident_declare"
)

// MetadataEventType marks the messages authops posts (Slack message metadata), so that a
// retried post finds its own message instead of posting twice.
const MetadataEventType = "authops_run_message"

// ButtonValue is what an approval button carries.
type ButtonValue struct {
	// WorkflowID is the run; FirstRunID pins it, so a click on a message of an older run of the
	// same id is refused as outdated.
	WorkflowID string `json:"w"`
	FirstRunID string `json:"r"`
	// Action names a pending incident action (a1, a2, …); empty for a rotation or an emergency run.
	Action string `json:"a,omitempty"`
}

// Encode is the button's value (Slack allows 2000 characters).
func (v ButtonValue) Encode() string {
	b, _ := json.Marshal(v)
	return string(b)
}

// DecodeButton parses a button's value.
func DecodeButton(s string) (ButtonValue, error) {
	var v ButtonValue
	if len(s) > 2000 {
		return v, errors.New("button value too long")
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("button value: %w", err)
	}
	if v.WorkflowID == "" {
		return v, errors.New("button value names no run")
	}
	return v, nil
}

// maxListedUsers is how many users an approval message names before it gives only their count.
const maxListedUsers = 10

// Approves says exactly what the Approve button of an incident action approves: the measure,
// its ranges or its users (their count, past ten), and the target it acts on (every affected
// target, named, when the action names none). It is plain text: escape it for mrkdwn.
func Approves(req contract.ContainRequest, targets []string) string {
	var b strings.Builder
	b.WriteString(req.Kind)
	switch req.Kind {
	case contract.ContainDenyCIDR:
		fmt.Fprintf(&b, " %s (%s)", strings.Join(req.CIDRs, ", "), plural(len(req.CIDRs), "range"))
		if req.TTL > 0 {
			b.WriteString(" for " + req.TTL.String())
		}
		if req.Force {
			b.WriteString(", forced past the lock-out guard")
		}
	case contract.ContainLogoutUsers, contract.ContainRequireReset:
		users := req.Users
		if len(users) > maxListedUsers {
			fmt.Fprintf(&b, " of %s (the first %d: %s, …)", plural(len(users), "user"), maxListedUsers,
				strings.Join(users[:maxListedUsers], ", "))
		} else {
			fmt.Fprintf(&b, " of %s: %s", plural(len(users), "user"), strings.Join(users, ", "))
		}
	case contract.ContainLogoutAll:
		b.WriteString(": every session of every user")
	case contract.ContainLogLevel:
		b.WriteString(" to " + req.Level)
	}
	switch {
	case req.Target != "":
		b.WriteString(" on target " + req.Target)
	case len(targets) == 1:
		b.WriteString(" on target " + targets[0])
	case len(targets) > 1:
		b.WriteString(" on every affected target: " + strings.Join(targets, ", "))
	default:
		b.WriteString(" on no target yet")
	}
	return contract.CleanText(b.String())
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
