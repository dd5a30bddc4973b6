package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// An incident declared with no targets (an alert with no target label and no
// alerts.default_targets) affects and freezes nothing until its owner, or an approver, names
// its targets with the targets decision.

// freezeTargets freezes, snapshots and confirms the incident's targets: declare does it for the
// targets the declaration names, the targets decision for those named later. With no targets it
// leaves the three steps pending, so the 15-minute clock escalates until someone names them.
func (i *incident) freezeTargets(ctx workflow.Context) {
	if len(i.in.Targets) == 0 {
		i.rec.add(ctx, systemActor, "targets", "none", fmt.Sprintf(
			"the declaration names no target, so nothing is frozen; the owner or an approver names them: starter incident targets %s T1,T2", i.id))
		return
	}
	i.st.Frozen = slices.Clone(i.in.Targets)
	if err := i.upsertFreeze(ctx); err != nil {
		i.rec.step(ctx, contract.StepFreeze, contract.StateFailed, err.Error())
	} else {
		i.rec.step(ctx, contract.StepFreeze, contract.StateDone, fmt.Sprintf(
			"frozen: %s (search attribute %s; rotations refuse or wait, emergency runs pass)",
			strings.Join(i.st.Frozen, ", "), contract.AttrFrozenTargets.GetName()))
	}
	i.snapshot(ctx)
	i.confirm(ctx)
}

// needTargets says why an action cannot be asked for yet, or "".
func (i *incident) needTargets() string {
	if len(i.st.Targets) > 0 {
		return ""
	}
	return fmt.Sprintf("the incident names no target yet; name them first: starter incident targets %s T1,T2", i.id)
}

// targetList names the targets for people; "no target yet" when there is none.
func targetList(ts []string) string {
	if len(ts) == 0 {
		return "no target yet"
	}
	return strings.Join(ts, ", ")
}

// targetsRule: the owner, or an approver of every target named, names the targets of an incident that has none; the run
// freezes, snapshots and confirms them as a declaration does.
func (i *incident) targetsRule(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	var req contract.TargetsRequest
	if d.Args == "" || json.Unmarshal([]byte(d.Args), &req) != nil {
		return "targets needs a list of targets (starter incident targets ID T1,T2)", ""
	}
	if err := req.Validate(); err != nil {
		return "targets refused: " + err.Error(), ""
	}
	for _, t := range req.Targets {
		if !slices.Contains(i.policy.Targets, t) {
			return fmt.Sprintf("unknown target %q (known: %s)", t, strings.Join(i.policy.Targets, ", ")), ""
		}
	}
	switch {
	case !i.dec.person(actor):
		return actor + " is not one of the people in the config", ""
	case actor != i.st.Owner && !slices.Contains(i.approversOfAll(req.Targets), actor):
		return fmt.Sprintf("%s is neither the owner (%s) nor an approver of %s", actor, i.st.Owner, strings.Join(req.Targets, ", ")), ""
	case i.resolving != nil:
		return "the incident is being resolved by " + i.resolving.by, ""
	case len(i.st.Targets) > 0:
		return fmt.Sprintf("the incident already affects %s; targets names the targets of an incident that has none",
			strings.Join(i.st.Targets, ", ")), ""
	}
	// Set before the first activity, so that a second targets decision meanwhile is refused.
	i.in.Targets, i.st.Targets = slices.Clone(req.Targets), slices.Clone(req.Targets)
	i.rec.status.Target = strings.Join(req.Targets, ",")
	i.freezeTargets(ctx)
	names := strings.Join(req.Targets, ", ")
	i.announce(ctx, "targets", fmt.Sprintf("Incident %s now affects %s, named by %s: frozen, snapshotted and checked.",
		i.id, names, actor), i.affectedApprovers()...)
	return "", "targets: " + names + "; frozen: " + targetList(i.st.Frozen)
}
