package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// DeclareRequest declares an auth incident (runbook 1).
type DeclareRequest struct {
	contract.IncidentInput
	// ID names the incident (incident-[a-z0-9-]{1,40}), so that a second declaration with it
	// finds the first; empty: incident-<short uuid>.
	ID string
	// DefaultReporter stands in for an empty Reporter when it names a person (the CLI's $USER).
	DefaultReporter string
}

// Declare validates everything it can and signs the start before touching Temporal.
func (c *Client) Declare(ctx context.Context, s Signer, req DeclareRequest) (Started, error) {
	in, id := req.IncidentInput, req.ID
	if id != "" {
		if err := contract.CheckIncidentID(id); err != nil {
			return Started{}, err
		}
	} else {
		id = "incident-" + strings.ReplaceAll(uuid.New().String(), "-", "")[:8]
	}
	cfg, err := c.config(in.Targets...)
	if err != nil {
		return Started{}, err
	}
	for _, t := range in.Targets {
		if _, err := cfg.Target(t); err != nil {
			return Started{}, fmt.Errorf("--target: %w", err)
		}
	}
	if len(in.Targets) == 0 {
		// A person who names no target declares for every one, as --target says; the run itself
		// takes none for a declaration without targets (an alert's).
		in.Targets = cfg.TargetNames()
	}
	if in.Reporter, err = requester(cfg, "--reporter", in.Reporter, req.DefaultReporter); err != nil {
		return Started{}, err
	}
	if err := in.Validate(); err != nil {
		return Started{}, err
	}
	sg, err := c.signingFor(cfg, s, "--reporter", in.Reporter)
	if err != nil {
		return Started{}, err
	}
	defer sg.close()
	if in.Statement, err = sg.sign(id, "", contract.ActionStartIncident, in.Summary, in.StartArgs()); err != nil {
		return Started{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return Started{}, err
	}
	targets := in.Targets
	if len(targets) == 0 {
		targets = []string{"every target"}
	}
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: contract.TaskQueue,
		StaticSummary: fmt.Sprintf("Auth incident (%s, %s) on %s, declared by %s: %s", in.Trigger, in.Severity,
			strings.Join(targets, ", "), in.Reporter, in.Summary),
		// An id names one incident for good: a second declaration with it (an alert firing again)
		// finds the first, running or closed, and changes nothing.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(contract.AttrRunbook.ValueSet("auth-incident")),
	}, contract.WorkflowAuthIncident, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return Started{}, fmt.Errorf("incident %s already exists (run %s); nothing was started: follow it with `starter status %s`", id, started.RunId, id)
	}
	if err != nil {
		return Started{}, fmt.Errorf("declare %s: %w", id, err)
	}
	return Started{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
}

// IncidentDecision is a decision on an incident that carries no more than a comment: take
// ownership (contract.UpdateOwner) or verify (contract.UpdateVerify).
type IncidentDecision struct {
	Run
	Actor   string
	Comment string
}

// Own takes ownership of an incident.
func (c *Client) Own(ctx context.Context, s Signer, req IncidentDecision) (DecisionAnswer, error) {
	if err := contract.CheckText("--comment", req.Comment); err != nil {
		return DecisionAnswer{}, err
	}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateOwner, contract.Decision{Actor: req.Actor, Comment: req.Comment}, nil)
}

// Verify runs the incident's verification checklist against the active controls.
func (c *Client) Verify(ctx context.Context, s Signer, req IncidentDecision) (DecisionAnswer, error) {
	if err := contract.CheckText("--comment", req.Comment); err != nil {
		return DecisionAnswer{}, err
	}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateVerify, contract.Decision{Actor: req.Actor, Comment: req.Comment}, nil)
}

// NoteRequest adds a note to an incident's timeline; Status makes it a status update.
type NoteRequest struct {
	Run
	Actor  string
	Text   string
	Status bool
}

// Note adds a note.
func (c *Client) Note(ctx context.Context, s Signer, req NoteRequest) (DecisionAnswer, error) {
	if strings.TrimSpace(req.Text) == "" {
		return DecisionAnswer{}, errors.New("the note is empty")
	}
	if err := contract.CheckNote(req.Text); err != nil {
		return DecisionAnswer{}, fmt.Errorf("note refused, nothing was sent: %w", err)
	}
	d := contract.Decision{Actor: req.Actor, Comment: req.Text}
	if req.Status {
		d.Args = Canonical(contract.NoteRequest{Status: true})
	}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateNote, d, nil)
}

// SeverityRequest changes an incident's severity.
type SeverityRequest struct {
	Run
	Actor    string
	Severity string
}

// Severity changes the severity.
func (c *Client) Severity(ctx context.Context, s Signer, req SeverityRequest) (DecisionAnswer, error) {
	if !slices.Contains(contract.Severities, req.Severity) {
		return DecisionAnswer{}, fmt.Errorf("severity must be one of %s, got %q", strings.Join(contract.Severities, ", "), contract.CleanText(req.Severity))
	}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateSeverity, contract.Decision{Actor: req.Actor, Comment: req.Severity}, nil)
}

// ResolveRequest resolves an incident.
type ResolveRequest struct {
	Run
	Actor string
	contract.ResolveRequest
}

// Resolve resolves the incident: temporary measures are undone unless kept, the freeze is
// lifted and the report is written.
func (c *Client) Resolve(ctx context.Context, s Signer, req ResolveRequest) (DecisionAnswer, error) {
	if err := req.ResolveRequest.Validate(); err != nil {
		return DecisionAnswer{}, fmt.Errorf("resolve refused, nothing was sent: %w", err)
	}
	d := contract.Decision{Actor: req.Actor, Comment: req.Summary, Args: Canonical(req.ResolveRequest)}
	return c.incidentDecision(ctx, s, req.Run, contract.DecisionResolve, d, nil)
}

// TargetsRequest names the targets of an incident declared with none.
type TargetsRequest struct {
	Run
	Actor   string
	Comment string
	Targets []string
}

// NameTargets names the targets; the run freezes, snapshots and health-checks them.
func (c *Client) NameTargets(ctx context.Context, s Signer, req TargetsRequest) (DecisionAnswer, error) {
	tr := contract.TargetsRequest{Targets: req.Targets}
	if err := tr.Validate(); err != nil {
		return DecisionAnswer{}, fmt.Errorf("targets refused, nothing was sent: %w", err)
	}
	cfg, err := c.config()
	if err != nil {
		return DecisionAnswer{}, err
	}
	for _, t := range tr.Targets {
		if _, err := cfg.Target(t); err != nil {
			return DecisionAnswer{}, fmt.Errorf("targets refused, nothing was sent: %w", err)
		}
	}
	if err := contract.CheckText("--comment", req.Comment); err != nil {
		return DecisionAnswer{}, err
	}
	d := contract.Decision{Actor: req.Actor, Comment: req.Comment, Args: Canonical(tr)}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateTargets, d, nil)
}

// incidentDecision sends one signed decision on an incident.
func (c *Client) incidentDecision(ctx context.Context, s Signer, t Run, name string, d contract.Decision,
	prepare func(ctx context.Context, tc Temporal, sg *signing, d *contract.Decision, ans *DecisionAnswer) error) (DecisionAnswer, error) {
	if err := contract.CheckText("incident id", t.WorkflowID); err != nil {
		return DecisionAnswer{}, err
	}
	cfg, err := c.config()
	if err != nil {
		return DecisionAnswer{}, err
	}
	return c.decide(ctx, cfg, s, t, name, d, prepare)
}
