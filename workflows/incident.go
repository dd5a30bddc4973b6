package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// AuthIncident is runbook 1: auth incident response, from declaration to the post-incident
// report. It lives for hours or days, takes every human step as a signed decision, and continues
// as new when its history grows, carrying its state.
func AuthIncident(ctx workflow.Context, in contract.IncidentInput) (contract.Report, error) {
	i := &incident{in: in, startArgs: in.StartArgs()}
	ctx, i.timeouts = withTimeouts(ctx)
	if err := i.setup(ctx); err != nil {
		return contract.Report{}, err
	}
	return i.run(ctx)
}

type incident struct {
	in contract.IncidentInput
	// startArgs is the declaration as its reporter signed it, before the run fills in the
	// targets: the start statement binds it.
	startArgs string
	id        string
	rec       *record
	dec       *intake
	policy    contract.IncidentPolicy
	st        contract.IncidentStatus
	// gates are the approvals of pending actions, by action id.
	gates       map[string]*gate
	nextID      int
	validations []contract.Validation
	archived    []contract.ArtifactRef
	// archivedActions are the report's actions from the archived timeline parts.
	archivedActions []contract.ReportAction
	// escalated holds the clocks that already fired: "first-steps", "owner-ack".
	escalated    map[string]bool
	lastReminder time.Time
	// running are the child and linked runs still open, by workflow id.
	running   map[string]bool
	resolving *resolveAsk
	// keepGate is the approval of a resolve that keeps measures (st.Keeping).
	keepGate *gate
	// timeouts are the run's activity timeouts, set from its policy.
	timeouts *contract.Timeouts
	// channelCalls counts the calls on the incident's own channel still going on in the
	// background (incident_channel.go).
	channelCalls int
}

type resolveAsk struct {
	by  string
	req contract.ResolveRequest
	// keep lists the measures' action ids that an approver agreed to keep, by whom and until
	// when.
	keep           []string
	keptApprovedBy string
	keptUntil      time.Time
}

// Timer names.
const (
	clockFirstSteps = "first-steps"
	clockOwnerAck   = "owner-ack"
)

func (i *incident) setup(ctx workflow.Context) error {
	i.id = workflow.GetInfo(ctx).WorkflowExecution.ID
	i.in.Reporter = strings.TrimSpace(i.in.Reporter)
	i.rec = newRecord("auth-incident", strings.Join(i.in.Targets, ","), i.in.Reporter,
		contract.StepDeclare, contract.StepFreeze, contract.StepSnapshot, contract.StepConfirm, contract.StepTimeline,
		contract.StepContain, contract.StepVerify, contract.StepResolve)
	i.dec = newIntake(i.rec)
	i.gates, i.escalated, i.running = map[string]*gate{}, map[string]bool{}, map[string]bool{}
	if s := i.in.State; s != nil {
		i.restore(*s)
	}
	i.dec.rules[contract.UpdateOwner] = i.ownerRule
	i.dec.rules[contract.UpdateNote] = i.noteRule
	i.dec.rules[contract.UpdateSeverity] = i.severityRule
	i.dec.rules[contract.UpdateContain] = i.containRule
	i.dec.rules[contract.UpdateVerify] = i.verifyRule
	i.dec.rules[contract.DecisionApprove] = i.approveRule
	i.dec.rules[contract.DecisionReject] = i.rejectRule
	i.dec.rules[contract.DecisionResolve] = i.resolveRule
	i.dec.rules[contract.UpdateTargets] = i.targetsRule
	if err := i.dec.register(ctx); err != nil {
		return err
	}
	// A child's outcome is read from its future only; a child-closed Update, which anyone could
	// send, is refused and recorded (incident_child_report.go).
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateChildClosed,
		func(ctx workflow.Context, c contract.ChildClosed) error {
			return i.childReportRefused(ctx, c)
		},
		workflow.UpdateHandlerOptions{
			Description: "refused: a child run's outcome is read from the server when it closes",
		}); err != nil {
		return fmt.Errorf("register update %s: %w", contract.UpdateChildClosed, err)
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryIncident, func() (contract.IncidentStatus, error) {
		st := i.st
		st.Phase, st.Checklist = i.rec.status.Phase, i.rec.status.Checklist
		return st, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryFrozen, func() ([]string, error) { return i.st.Frozen, nil }); err != nil {
		return err
	}
	return i.rec.registerQueries(ctx)
}

func (i *incident) run(ctx workflow.Context) (contract.Report, error) {
	fresh := i.in.State == nil
	if fresh {
		i.rec.add(ctx, i.in.Reporter, "declared", i.in.Severity+" "+i.in.Trigger+" from "+i.in.Source, i.in.Summary)
		if err := i.in.Validate(); err != nil {
			return i.refuse(ctx, "input", err)
		}
	} else if workflow.GetInfo(ctx).ContinuedExecutionRunID == "" {
		// Carried state skips the declaration and its signed start: only the incident's own
		// continue-as-new may hand it over.
		return i.refuse(ctx, "input", errors.New("carried incident state is accepted only from the incident's own continue-as-new"))
	}
	if err := workflow.ExecuteActivity(shortCtx(ctx), act.LoadIncidentPolicy).Get(ctx, &i.policy); err != nil {
		i.rec.add(ctx, systemActor, "load incident policy", contract.StateFailed, err.Error())
		i.dec.refuseAll(ctx, "its policy could not be loaded")
		return contract.Report{}, err
	}
	i.dec.loadPeople(i.policy.People, i.policy.GatewayKeys)
	*i.timeouts = i.policy.Timeouts
	if !fresh {
		i.rebuildGates()
		i.dec.open()
		i.rec.add(ctx, systemActor, "continued as new", contract.StateDone,
			fmt.Sprintf("%d earlier timeline events archived in %d parts", archivedEvents(i.archived), len(i.archived)))
		i.upsertFreeze(ctx)
		return i.loop(ctx)
	}
	for _, t := range i.in.Targets {
		if !slices.Contains(i.policy.Targets, t) {
			return i.refuse(ctx, "input", fmt.Errorf("unknown target %q (known: %s)", contract.CleanText(t), strings.Join(i.policy.Targets, ", ")))
		}
	}
	if err := i.dec.startChecked(ctx, i.in.Statement, i.checkStart); err != nil {
		return i.refuse(ctx, "start", err)
	}
	i.rec.add(ctx, i.in.Reporter, "start", "verified", "signed "+contract.ActionStartIncident)
	i.declare(ctx)
	// A decision sent while the run was declaring (an owner taking the incident the moment it
	// is posted) is judged now, against the declared state, so declare cannot overwrite it.
	i.dec.open()
	return i.loop(ctx)
}

// refuse ends a run that was declared wrongly, before it did anything.
func (i *incident) refuse(ctx workflow.Context, what string, err error) (contract.Report, error) {
	i.rec.add(ctx, systemActor, what, "refused", err.Error())
	i.dec.claimRefused(ctx, i.in.Statement)
	i.dec.refuseAll(ctx, err.Error())
	return contract.Report{}, temporal.NewNonRetryableApplicationError("invalid incident: "+err.Error(), contract.ErrTypeInvalidInput, err)
}

// checkStart verifies the run's id and the reporter's signed declaration. It reads the run's
// identity, so it runs recorded (startChecked): a replayer runs under another id.
func (i *incident) checkStart(ctx workflow.Context) error {
	if err := contract.CheckIncidentID(workflow.GetInfo(ctx).WorkflowExecution.ID); err != nil {
		return err
	}
	return i.dec.verifyStart(ctx, contract.ActionStartIncident, i.in.Reporter, i.in.Summary, i.startArgs, i.in.Statement)
}

// declare runs the runbook's first 15 minutes: announce and owner, freeze, snapshot, confirm,
// timeline.
func (i *incident) declare(ctx workflow.Context) {
	now := workflow.Now(ctx).UTC()
	i.st = contract.IncidentStatus{
		ID: i.id, Trigger: i.in.Trigger, Severity: i.in.Severity, Summary: i.in.Summary, Reporter: i.in.Reporter,
		Source: i.in.Source, Owner: i.in.Reporter, Targets: i.in.Targets, DeclaredAt: now,
	}
	i.rec.status.Target = strings.Join(i.in.Targets, ",")
	i.rec.phase("first 15 minutes")

	i.rec.step(ctx, contract.StepDeclare, contract.StateRunning,
		fmt.Sprintf("%s owns the incident until someone takes it (starter incident owner %s)", i.in.Reporter, i.id))
	declared := fmt.Sprintf("AUTH INCIDENT %s (%s, %s) declared by %s on %s: %s. Owner: %s until someone takes it.",
		i.id, i.in.Severity, i.in.Trigger, i.in.Reporter, targetList(i.in.Targets), i.in.Summary, i.in.Reporter)
	if !i.openChannel(ctx, declared) {
		i.announce(ctx, "declared", declared, i.policy.Approvers...)
	}

	i.freezeTargets(ctx)
	i.rec.step(ctx, contract.StepTimeline, contract.StateDone, "UTC timeline kept from "+now.Format(time.RFC3339))
	i.rec.phase("contain")
}

// upsertFreeze writes the frozen targets where rotations and outside systems read them.
func (i *incident) upsertFreeze(ctx workflow.Context) error {
	upd := contract.AttrFrozenTargets.ValueSet(i.st.Frozen)
	if len(i.st.Frozen) == 0 {
		upd = contract.AttrFrozenTargets.ValueUnset()
	}
	return workflow.UpsertTypedSearchAttributes(ctx, upd, contract.AttrRunbook.ValueSet("auth-incident"))
}

// snapshot records each target's environment and auth settings, fingerprinted.
func (i *incident) snapshot(ctx workflow.Context) {
	futs := make([]workflow.Future, len(i.in.Targets))
	for n, t := range i.in.Targets {
		futs[n] = workflow.ExecuteActivity(precheckCtx(ctx), act.SnapshotTarget, contract.IncidentTargetInput{Incident: i.id, Target: t})
	}
	var done, failed []string
	for n, f := range futs {
		var s contract.Snapshot
		if err := f.Get(ctx, &s); err != nil {
			failed = append(failed, i.in.Targets[n]+": "+err.Error())
			continue
		}
		i.st.Snapshots = append(i.st.Snapshots, s)
		done = append(done, fmt.Sprintf("%s: secret %s (%s), %d config keys, artifact %s sha256 %s",
			s.Target, s.Secret.ID, s.Secret.Fingerprint, len(s.Config), s.Artifact.Path, short(s.Artifact.Digest)))
	}
	if len(failed) > 0 {
		i.rec.step(ctx, contract.StepSnapshot, contract.StateFailed, strings.Join(append(failed, done...), "; "))
		return
	}
	i.rec.step(ctx, contract.StepSnapshot, contract.StateDone, strings.Join(done, "; "))
}

// confirm checks the auth endpoints of each target, with the evidence on the timeline.
func (i *incident) confirm(ctx workflow.Context) {
	var notes []string
	ok := true
	for _, t := range i.in.Targets {
		var rs contract.ProbeResults
		if err := workflow.ExecuteActivity(precheckCtx(ctx), act.ConfirmAuth, contract.IncidentTargetInput{Incident: i.id, Target: t}).Get(ctx, &rs); err != nil {
			ok = false
			notes = append(notes, t+": "+err.Error())
			continue
		}
		i.addValidation("confirm "+t, rs)
		if len(rs.Failed()) > 0 {
			bad := failedResults(rs)
			ok = false
			notes = append(notes, t+": "+bad)
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: %s", t, passed(rs)))
	}
	state := contract.StateDone
	if !ok {
		state = contract.StateFailed
	}
	i.rec.step(ctx, contract.StepConfirm, state, strings.Join(notes, "; "))
}

// loop waits for decisions and clocks until someone resolves the incident.
func (i *incident) loop(ctx workflow.Context) (contract.Report, error) {
	for {
		if i.resolving != nil {
			return i.resolve(ctx)
		}
		if i.continueAsNewDue(ctx) {
			if err := i.continueAsNew(ctx); err != nil {
				return contract.Report{}, err
			}
		}
		seen := len(i.rec.timeline)
		woken := func() bool { return i.resolving != nil || len(i.rec.timeline) != seen }
		var err error
		if next := i.nextDeadline(); next.IsZero() {
			err = workflow.Await(ctx, woken)
		} else {
			_, err = workflow.AwaitWithTimeout(ctx, max(0, next.Sub(workflow.Now(ctx))), woken)
		}
		if err != nil {
			return i.canceled(ctx)
		}
		i.clocks(ctx)
	}
}

// nextDeadline is the earliest clock still to fire: the 15-minute clock, the owner's
// acknowledgement, the next status update, a denied range's TTL.
func (i *incident) nextDeadline() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !i.escalated[clockFirstSteps] {
		earlier(i.st.DeclaredAt.Add(i.policy.FirstSteps))
	}
	if !i.escalated[clockOwnerAck] && !i.ownerTaken() {
		earlier(i.st.DeclaredAt.Add(i.policy.OwnerAck))
	}
	earlier(i.statusDue())
	for _, m := range i.st.Measures {
		if !m.Expires.IsZero() && m.Undone.IsZero() {
			earlier(m.Expires)
		}
	}
	return next
}

// clocks fires what is due.
func (i *incident) clocks(ctx workflow.Context) {
	now := workflow.Now(ctx)
	if !i.escalated[clockFirstSteps] {
		missing := i.missingFirstSteps()
		switch {
		case len(missing) == 0:
			i.escalated[clockFirstSteps] = true
			i.rec.add(ctx, systemActor, "15-minute clock", "met", fmt.Sprintf("steps 1–4 done %s after declaration",
				now.Sub(i.st.DeclaredAt).Round(time.Second)))
		case !now.Before(i.st.DeclaredAt.Add(i.policy.FirstSteps)):
			i.escalated[clockFirstSteps] = true
			why := fmt.Sprintf("not done %s after declaration: %s", i.policy.FirstSteps, strings.Join(missing, "; "))
			i.rec.add(ctx, systemActor, "15-minute clock", "escalated", why)
			i.announce(ctx, "escalation", fmt.Sprintf("ESCALATION: incident %s: %s. Owner: %s.", i.id, why, i.st.Owner), i.policy.Approvers...)
		}
	}
	if !i.escalated[clockOwnerAck] && !i.ownerTaken() && !now.Before(i.st.DeclaredAt.Add(i.policy.OwnerAck)) {
		i.escalated[clockOwnerAck] = true
		why := fmt.Sprintf("nobody took ownership within %s; %s still holds it", i.policy.OwnerAck, i.st.Owner)
		i.rec.add(ctx, systemActor, "owner", "escalated", why)
		i.announce(ctx, "escalation", fmt.Sprintf("ESCALATION: incident %s: %s. Take it: starter incident owner %s --as <you>.", i.id, why, i.id), i.policy.Approvers...)
	}
	if due := i.statusDue(); !due.IsZero() && !now.Before(due) {
		i.lastReminder = now
		last := "none yet"
		if !i.st.LastStatusUpdate.IsZero() {
			last = i.st.LastStatusUpdate.UTC().Format(time.RFC3339)
		}
		why := fmt.Sprintf("a status update is due every %s at %s severity (last: %s); send one with: starter incident note %s --status",
			i.cadence(), i.st.Severity, last, i.id)
		i.rec.add(ctx, systemActor, "status update", "reminded", i.st.Owner+": "+why)
		i.announce(ctx, "reminder", fmt.Sprintf("Incident %s: %s, %s.", i.id, i.st.Owner, why), i.st.Owner)
	}
	for n := range i.st.Measures {
		m := &i.st.Measures[n]
		if !m.Expires.IsZero() && m.Undone.IsZero() && !now.Before(m.Expires) {
			i.undo(ctx, m, "its TTL ended")
		}
	}
}

func (i *incident) ownerTaken() bool {
	return slices.ContainsFunc(i.rec.status.Checklist, func(s contract.Step) bool {
		return s.Name == contract.StepDeclare && s.State == contract.StateDone
	})
}

// missingFirstSteps names the steps of the first 15 minutes that are not done.
func (i *incident) missingFirstSteps() []string {
	var out []string
	for _, s := range i.rec.status.Checklist {
		if slices.Contains(contract.IncidentFirstSteps, s.Name) && s.State != contract.StateDone {
			out = append(out, fmt.Sprintf("%s (%s)", s.Name, s.State))
		}
	}
	return out
}

// cadence is how often a status update is due at the current severity (0: never).
func (i *incident) cadence() time.Duration { return i.policy.StatusEvery[i.st.Severity] }

// statusDue is when the next status update is due: a cadence after the last update, the last
// reminder or the declaration, whichever came last.
func (i *incident) statusDue() time.Time {
	c := i.cadence()
	if c <= 0 {
		return time.Time{}
	}
	since := i.st.DeclaredAt
	for _, t := range []time.Time{i.st.LastStatusUpdate, i.lastReminder} {
		if t.After(since) {
			since = t
		}
	}
	return since.Add(c)
}

func (i *incident) addValidation(stage string, rs contract.ProbeResults) {
	ok := len(rs.Failed()) == 0
	i.validations = append(i.validations, contract.Validation{Stage: stage, OK: ok, Results: rs})
}

func (i *incident) announce(ctx workflow.Context, kind, text string, mention ...string) {
	announce(ctx, i.rec, contract.Message{Target: strings.Join(i.st.Targets, ","), Channel: i.channel(), Kind: kind, Text: text, Mention: mention})
}

// passed summarizes passing probe results.
func passed(rs contract.ProbeResults) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %d", r.Name, r.Got))
	}
	return strings.Join(out, ", ")
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func archivedEvents(parts []contract.ArtifactRef) int {
	n := 0
	for _, p := range parts {
		n += p.Events
	}
	return n
}
