// Package slackui is what the worker's Slack notifier and the gateway share about the messages
// they exchange: the ids of the interactive elements and the value a button carries. A button's
// value is only a pointer to a run; the gateway turns a verified click into a signed decision,
// and the run judges it.
package slackui

import (
	"encoding/json"
	"errors"
	"fmt"
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
