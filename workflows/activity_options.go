package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// Activity options by kind of step, and the run's timeouts they read.

type localKey struct{}

// withLocalActivities marks ctx so that execute runs its steps as local activities: on this
// worker, inside the workflow task, with no trip through the task queue between them. On a
// busy machine each trip costs from ten to a few hundred milliseconds. A crash re-runs a step
// whose result was not yet recorded, which every step allows: each is idempotent.
func withLocalActivities(ctx workflow.Context) workflow.Context {
	return workflow.WithValue(ctx, localKey{}, true)
}

// execute runs a quick step with ctx's activity options: as a local activity when ctx is marked
// by withLocalActivities, else as an activity.
func execute(ctx workflow.Context, fn any, args ...any) workflow.Future {
	if local, _ := ctx.Value(localKey{}).(bool); !local {
		return workflow.ExecuteActivity(ctx, fn, args...)
	}
	o := workflow.GetActivityOptions(ctx)
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: o.StartToCloseTimeout, RetryPolicy: o.RetryPolicy,
	}), fn, args...)
}

// shortCtx is for quick activities: store and sink writes, control API calls, announcements.
func shortCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: orDefault(timeoutsOf(ctx).Activity, 30*time.Second),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 500 * time.Millisecond, MaximumInterval: 10 * time.Second, MaximumAttempts: 5,
		},
	})
}

// writeCtx is for activities that change the target or the secret store. On cancellation the
// workflow waits for such an activity to finish before it compensates, so an undo never races
// the write it undoes.
func writeCtx(ctx workflow.Context) workflow.Context {
	ctx = shortCtx(ctx)
	opts := workflow.GetActivityOptions(ctx)
	opts.WaitForCancellation = true
	return workflow.WithActivityOptions(ctx, opts)
}

// precheckCtx is for checks that probe the backend and run a deploy dry run.
func precheckCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: orDefault(timeoutsOf(ctx).Check, 2*time.Minute),
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

type timeoutsKey struct{}

// withTimeouts returns ctx carrying the run's activity timeouts, which the run sets once its
// policy is loaded (config timeouts:). Every context derived from ctx sees them.
func withTimeouts(ctx workflow.Context) (workflow.Context, *contract.Timeouts) {
	t := &contract.Timeouts{}
	return workflow.WithValue(ctx, timeoutsKey{}, t), t
}

// timeoutsOf reads the run's timeouts; zero fields keep the defaults.
func timeoutsOf(ctx workflow.Context) contract.Timeouts {
	if t, ok := ctx.Value(timeoutsKey{}).(*contract.Timeouts); ok && t != nil {
		return *t
	}
	return contract.Timeouts{}
}

// heartbeatTimeout is the heartbeat timeout of the activities that heartbeat (every 2 s).
func heartbeatTimeout(ctx workflow.Context) time.Duration {
	return orDefault(timeoutsOf(ctx).Heartbeat, 15*time.Second)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
