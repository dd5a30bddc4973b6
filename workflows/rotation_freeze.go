package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// freezePoll is how often a rotation that waits out a freeze looks again.
const freezePoll = time.Minute

// checkFreeze refuses (or, if the target's config says so, waits) while a running incident
// freezes the target. It runs before the pre-checks and again before any change. An emergency
// rotation is never frozen: a compromised secret must always be replaceable. A rotation the
// freezing incident started itself passes.
func (r *rotation) checkFreeze(ctx workflow.Context, when string) error {
	if r.in.Mode == contract.ModeEmergency {
		return nil
	}
	in := contract.FreezeInput{Target: r.in.Target}
	if p := workflow.GetInfo(ctx).ParentWorkflowExecution; p != nil {
		in.Exempt = p.ID
	}
	waiting := ""
	for {
		var by string
		if err := execute(r.reads(shortCtx(ctx)), act.FrozenBy, in).Get(ctx, &by); err != nil {
			// Fail closed: a freeze that cannot be read may be in force.
			r.rec.add(ctx, systemActor, "freeze check "+when, contract.StateFailed, err.Error())
			return r.fail(ctx, contract.OutcomePrecheckFailed, "cannot read incident freezes: "+err.Error())
		}
		if by == "" {
			if waiting != "" {
				r.rec.add(ctx, systemActor, "freeze check "+when, "lifted", "the freeze by "+waiting+" was lifted")
			}
			return nil
		}
		if r.policy.Freeze != contract.FreezeWait {
			r.rec.add(ctx, systemActor, "freeze check "+when, "refused", "frozen by "+by)
			return r.fail(ctx, contract.OutcomeFrozen, "frozen by "+by+"; rotate from the incident (starter incident contain "+by+" rotate) or after it is resolved")
		}
		if waiting != by {
			r.rec.add(ctx, systemActor, "freeze check "+when, "waiting", "frozen by "+by+"; the rotation waits until the freeze lifts")
			r.rec.phase("waiting: frozen by " + by)
			waiting = by
		}
		if err := workflow.Sleep(ctx, freezePoll); err != nil {
			return r.canceled(ctx)
		}
	}
}
