package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// The incident's decision rules. Each judges one decision against the incident's state when it
// arrives and returns why it is refused, or takes effect and returns a note for the record.

// ownerRule: an approver of an affected target, or one of incident.owners, takes the incident;
// every change of owner is on the timeline, naming both, and announced.
func (i *incident) ownerRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	switch {
	case !i.dec.person(actor):
		return actor + " is not one of the people in the config and cannot own an incident", ""
	case actor == i.st.Owner && i.ownerTaken():
		return actor + " already owns " + i.id, ""
	}
	if !i.mayOwn(actor) {
		return i.whyNotOwner(actor), ""
	}
	from := i.st.Owner
	i.st.Owner = actor
	i.rec.status.RequestedBy = i.st.Reporter
	if !i.ownerTaken() {
		i.rec.step(ctx, contract.StepDeclare, contract.StateDone, "owner: "+actor)
	}
	i.inviteOwner(ctx)
	text := fmt.Sprintf("Incident %s: owner %s → %s.", i.id, from, actor)
	mention := []string{actor}
	if from != actor {
		mention = append(mention, from)
	}
	i.announce(ctx, "owner", text, mention...)
	return "", fmt.Sprintf("owner: %s → %s", from, actor)
}

// noteRule: anyone in people, or an alert, adds free text as a scribe would; --status makes it
// the status update the cadence asks for.
func (i *incident) noteRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	var req contract.NoteRequest
	switch {
	case !i.dec.person(actor) && !strings.HasPrefix(actor, contract.RequesterAlertPrefix):
		return actor + " is not one of the people in the config", ""
	case strings.TrimSpace(d.Comment) == "":
		return "a note needs text", ""
	case contract.CheckNote(d.Comment) != nil:
		return "note refused: " + contract.CheckNote(d.Comment).Error(), ""
	case d.Args != "" && json.Unmarshal([]byte(d.Args), &req) != nil:
		return "note refused: its arguments are not a note request", ""
	}
	if req.Status {
		i.st.LastStatusUpdate = workflow.Now(ctx).UTC()
		return "", "status update"
	}
	return "", "note"
}

// severityRule: the owner or an approver changes the severity, and with it the status cadence.
func (i *incident) severityRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	sev := strings.TrimSpace(d.Comment)
	switch {
	case !i.isOwner(actor) && !slices.Contains(i.affectedApprovers(), actor):
		return fmt.Sprintf("%s is neither the owner (%s) nor an approver of %s", actor, i.st.Owner, strings.Join(i.st.Targets, ", ")), ""
	case !slices.Contains(contract.Severities, sev):
		return fmt.Sprintf("severity must be one of %s, got %q", strings.Join(contract.Severities, ", "), contract.CleanText(sev)), ""
	case sev == i.st.Severity:
		return "the severity is already " + sev, ""
	}
	from := i.st.Severity
	i.st.Severity = sev
	note := fmt.Sprintf("severity %s → %s", from, sev)
	if c := i.cadence(); c > 0 {
		note += "; status updates every " + c.String()
	}
	return "", note
}

// containRule: the owner (or whom the config allows) asks for a containment action. It is
// applied at once when its quorum is 0, else it waits for approvals under its own id.
func (i *incident) containRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	var req contract.ContainRequest
	if err := json.Unmarshal([]byte(d.Args), &req); err != nil || d.Args == "" {
		return "contain needs a containment request (starter incident contain ID <action> ...)", ""
	}
	if err := req.Validate(); err != nil {
		return err.Error(), ""
	}
	if why := i.needTargets(); why != "" {
		return why, ""
	}
	if why := i.mayAsk(actor, req); why != "" {
		return why, ""
	}
	if why := i.checkRequest(ctx, &req, actor, d); why != "" {
		return why, ""
	}
	rule := i.rule(req.Kind)
	if req.Kind == contract.ContainInvalidate || req.Kind == contract.ContainRotate {
		// The child run's own go-ahead is its approval, and the start it carries is valid for
		// minutes only: it starts now.
		rule.Quorum = 0
	}
	// A measure that can lock out many people needs a second person whatever the config says
	// (it may ask for more, never less), and only the approvers of the targets it acts on count.
	second := i.needsSecondPerson(req)
	if second != "" {
		rule.Quorum = max(rule.Quorum, 1)
	}
	approvers := i.approversOfAll(i.measureTargets(req))
	if rule.Quorum > 0 {
		what := req.Describe()
		if second != "" {
			what += " (" + second + ")"
		}
		if why := enough(approvers, actor, rule.Quorum, what); why != "" {
			return why, ""
		}
	}
	i.nextID++
	pa := contract.PendingAction{ID: fmt.Sprintf("a%d", i.nextID), Request: req, Asker: actor,
		AskedAt: workflow.Now(ctx).UTC(), Quorum: rule.Quorum, State: "pending"}
	if rule.Quorum > 0 {
		pa.Approvers, pa.Why = approvers, second
	}
	if i.rec.status.Checklist[slices.IndexFunc(i.rec.status.Checklist, func(s contract.Step) bool { return s.Name == contract.StepContain })].State == contract.StatePending {
		i.rec.step(ctx, contract.StepContain, contract.StateRunning, "first action asked for by "+actor)
	}
	if rule.Quorum == 0 {
		pa.State = "approved"
		detail, err := i.apply(ctx, &pa, d.Start)
		if err != nil {
			return fmt.Sprintf("%s %s failed: %s", pa.ID, req.Describe(), err), ""
		}
		i.st.Pending = append(i.st.Pending, pa)
		return "", fmt.Sprintf("%s %s: %s", pa.ID, req.Describe(), detail)
	}
	g := newGate(i.rec, approvers, actor, rule.Quorum)
	g.asked = "asked for " + pa.ID
	i.gates[pa.ID] = g
	pa.Detail = g.progress()
	i.st.Pending = append(i.st.Pending, pa)
	asked := req.Describe()
	if second != "" {
		asked += " (needs a second person: " + second + ")"
	}
	i.announce(ctx, "approval", fmt.Sprintf("Incident %s: %s asks for %s (%s). Approve: starter approve %s --action %s",
		i.id, actor, asked, g.progress(), i.id, pa.ID), approvers...)
	return "", fmt.Sprintf("%s %s waits for approval: %s", pa.ID, asked, g.progress())
}

// mayAsk says why actor may not ask for req, or "". The owner is one who may own, and
// "approvers" are those of the targets the request acts on.
func (i *incident) mayAsk(actor string, req contract.ContainRequest) string {
	kind := req.Kind
	rule := i.rule(kind)
	approvers := i.approversOfAll(i.measureTargets(req))
	for _, w := range rule.Who {
		switch {
		case w == "owner" && i.isOwner(actor),
			w == "approvers" && slices.Contains(approvers, actor),
			w == actor:
			return ""
		}
	}
	owner := i.st.Owner
	if !i.mayOwn(owner) {
		owner += ", who holds it only until an approver of " + strings.Join(i.st.Targets, ", ") + " or one of incident.owners takes it"
	}
	return fmt.Sprintf("%s may not ask for %s: it is for %s (the owner is %s)", actor, kind, strings.Join(rule.Who, ", "), owner)
}

// rule is the config's rule for kind; a kind the config does not name is the owner's, with one
// approver.
func (i *incident) rule(kind string) contract.ActionRule {
	if r, ok := i.policy.Actions[kind]; ok {
		return r
	}
	return contract.ActionRule{Who: []string{"owner"}, Quorum: 1}
}

// checkRequest judges a request against the incident: its target, its ranges, a child's start.
func (i *incident) checkRequest(ctx workflow.Context, req *contract.ContainRequest, actor string, d contract.Decision) string {
	if req.Target != "" && !slices.Contains(i.st.Targets, req.Target) {
		return fmt.Sprintf("unknown target %q: the incident affects %s", req.Target, strings.Join(i.st.Targets, ", "))
	}
	switch req.Kind {
	case contract.ContainDenyCIDR:
		// Normal form and the union of the ranges in force (incident_deny.go).
		if why := i.checkDeny(ctx, req); why != "" {
			return why
		}
	case contract.ContainInvalidate, contract.ContainRotate:
		if req.Target == "" {
			if len(i.st.Targets) > 1 {
				return fmt.Sprintf("%s needs --target: the incident affects %s", req.Kind, strings.Join(i.st.Targets, ", "))
			}
			req.Target = i.st.Targets[0]
		}
		want := contract.InvalidationID(req.Target)
		if req.Kind == contract.ContainRotate {
			want = contract.RotationID(req.Target)
		}
		if s := d.Start; s == nil || s.Statement.WorkflowID != want || s.Statement.Actor != actor {
			return fmt.Sprintf("%s needs a start for %s signed by %s (starter incident contain sends it)", req.Kind, want, actor)
		}
		if req.Kind == contract.ContainInvalidate && strings.TrimSpace(req.Reason) == "" {
			return "invalidate needs a reason (--reason): the emergency run announces it"
		}
		if i.running[want] {
			return want + " is already running for this incident"
		}
	}
	return ""
}

// probeFrom lists the addresses the worker's probes reach target (every target when "") from.
func (i *incident) probeFrom(target string) []string {
	var out []string
	for _, s := range i.st.Snapshots {
		if target == "" || s.Target == target {
			out = append(out, s.ProbeFrom...)
		}
	}
	return out
}

// pendingFor finds the pending action a decision names in its Args, or the only one.
func (i *incident) pendingFor(d contract.Decision) (*contract.PendingAction, string) {
	var ref contract.ActionRef
	if d.Args != "" {
		if err := json.Unmarshal([]byte(d.Args), &ref); err != nil {
			return nil, "the decision's arguments do not name an action"
		}
	}
	var open []string
	for n := range i.st.Pending {
		pa := &i.st.Pending[n]
		if pa.State == "pending" {
			open = append(open, pa.ID)
			if pa.ID == ref.Action {
				return pa, ""
			}
		}
	}
	if i.keepGate != nil && i.keepGate.open {
		open = append(open, contract.KeepAction)
	}
	switch {
	case ref.Action != "":
		return nil, fmt.Sprintf("no pending action %q (pending: %s)", contract.CleanText(ref.Action), orNone(open))
	case len(open) == 1:
		return i.pending(open[0]), ""
	case len(open) == 0:
		return nil, "no action is waiting for approval"
	}
	return nil, "several actions wait for approval; name one with --action (" + strings.Join(open, ", ") + ")"
}

func (i *incident) pending(id string) *contract.PendingAction {
	for n := range i.st.Pending {
		if i.st.Pending[n].ID == id {
			return &i.st.Pending[n]
		}
	}
	return nil
}

// approveRule: an approver other than the asker approves a pending action; the approval that
// meets its quorum applies it.
func (i *incident) approveRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	if i.decidesKeep(d) {
		return i.approveKeep(ctx, actor, d)
	}
	pa, why := i.pendingFor(d)
	if why != "" {
		return why, ""
	}
	if why := i.approvalBound(d, pa); why != "" {
		return why, ""
	}
	g := i.gates[pa.ID]
	if why, _ := g.approve(ctx, actor, d); why != "" {
		return pa.ID + ": " + why, ""
	}
	pa.Approvals = append(pa.Approvals, actor)
	pa.Detail = g.progress()
	if !g.met() {
		return "", pa.ID + " " + g.progress()
	}
	g.open = false
	pa.State = "approved"
	detail, err := i.apply(ctx, pa, nil)
	if err != nil {
		return "", fmt.Sprintf("%s approved (%s), but %s failed: %s", pa.ID, g.names(), pa.Request.Describe(), err)
	}
	return "", fmt.Sprintf("%s approved by %s: %s: %s", pa.ID, g.names(), pa.Request.Describe(), detail)
}

// rejectRule: an approver, or the asker withdrawing, rejects a pending action.
func (i *incident) rejectRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	if i.decidesKeep(d) {
		return i.rejectKeep(ctx, actor, d)
	}
	pa, why := i.pendingFor(d)
	if why != "" {
		return why, ""
	}
	if why, _ := i.gates[pa.ID].reject(ctx, actor, d); why != "" {
		return pa.ID + ": " + why, ""
	}
	i.gates[pa.ID].open = false
	pa.State, pa.Detail = "rejected", "rejected by "+actor
	return "", pa.ID + " " + pa.Request.Describe() + " rejected; nothing changed"
}

// verifyRule: anyone in people runs the verification checklist now.
func (i *incident) verifyRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	if !i.dec.person(actor) {
		return actor + " is not one of the people in the config", ""
	}
	return "", i.verify(ctx, fmt.Sprintf("verify %d (asked by %s)", i.nextVerifyRound(), actor))
}

// nextVerifyRound numbers a verification asked for: one after the last round among the
// validations (the confirmation and the per-target results are no rounds; the carried
// validations hold the latest round across continue-as-new).
func (i *incident) nextVerifyRound() int {
	last := 0
	for _, v := range i.validations {
		var n int
		if _, err := fmt.Sscanf(v.Stage, "verify %d ", &n); err == nil && n > last {
			last = n
		}
	}
	return last + 1
}

// resolveRule: the owner, or an approver of an affected target taking over from an absent owner,
// resolves with a final summary. The run undoes the temporary measures, verifies and writes the
// report. Keeping measures past the incident waits for an approver besides the one who resolves.
func (i *incident) resolveRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	var req contract.ResolveRequest
	if d.Args != "" {
		if err := json.Unmarshal([]byte(d.Args), &req); err != nil {
			return "resolve refused: its arguments are not a resolve request", ""
		}
	}
	open := i.openRuns()
	switch {
	case i.resolving != nil:
		return "already being resolved by " + i.resolving.by, ""
	case i.st.Keeping != nil && i.st.Keeping.State == "pending":
		return fmt.Sprintf("%s's resolve waits for approval to keep %s (starter approve %s --action %s); reject it to resolve otherwise",
			i.st.Keeping.By, strings.Join(i.st.Keeping.Measures, ", "), i.id, contract.KeepAction), ""
	case !i.isOwner(actor) && !slices.Contains(i.affectedApprovers(), actor):
		return fmt.Sprintf("%s is neither the owner (%s) nor an approver of %s", actor, i.st.Owner, strings.Join(i.st.Targets, ", ")), ""
	case req.Validate() != nil:
		return req.Validate().Error(), ""
	case len(open) > 0:
		return "runs the incident started are still open: " + strings.Join(open, ", ") + "; resolve once they close", ""
	}
	note := "resolving"
	if actor != i.st.Owner {
		note += fmt.Sprintf(" (taking over from %s)", i.st.Owner)
	}
	if len(req.Keep) > 0 {
		why, kept := i.askKeep(ctx, actor, req)
		if why != "" || i.resolving == nil {
			return why, kept
		}
		return "", note + "; " + strings.TrimPrefix(kept, "resolving; ")
	}
	i.resolving = &resolveAsk{by: actor, req: req}
	return "", note
}

// childClosed records how a child or linked run ended, once.
func (i *incident) childClosed(ctx workflow.Context, c contract.ChildClosed, how string) {
	for n := range i.st.Children {
		ch := &i.st.Children[n]
		if ch.WorkflowID != c.WorkflowID || ch.Outcome != "" {
			continue
		}
		ch.Outcome, ch.Summary = c.Outcome, contract.CleanText(c.Summary)
		delete(i.running, c.WorkflowID)
		i.rec.add(ctx, systemActor, ch.Runbook+" "+ch.WorkflowID, c.Outcome, how+": "+c.Summary)
		return
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
