package workflows

import (
	"github.com/authops/authops/contract"

	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/internal/notify"
)

// compensations undo completed steps in reverse order.
type compensations []compensation

type compensation struct {
	name string
	fn   func(ctx workflow.Context) error
}

func (c *compensations) add(name string, fn func(ctx workflow.Context) error) {
	*c = append(*c, compensation{name: name, fn: fn})
}

// run executes every compensation, newest first, even after one fails: a later undo (say,
// marking a version failed) is still worth doing. ctx should be disconnected.
func (c compensations) run(ctx workflow.Context, rec *record) error {
	var errs []error
	for i := len(c) - 1; i >= 0; i-- {
		if err := c[i].fn(ctx); err != nil {
			rec.add(ctx, systemActor, "compensate: "+c[i].name, contract.StateFailed, err.Error())
			errs = append(errs, fmt.Errorf("%s: %w", c[i].name, err))
			continue
		}
		rec.add(ctx, systemActor, "compensate: "+c[i].name, contract.StateDone, "")
	}
	return errors.Join(errs...)
}

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

// announce sends a message and records it. A notifier that is down must not stop a security
// runbook, so a failed announcement goes on the timeline and the run continues.
func announce(ctx workflow.Context, rec *record, m notify.Message) {
	m.RunID = workflow.GetInfo(ctx).WorkflowExecution.ID
	sent(ctx, rec, m, workflow.ExecuteActivity(shortCtx(ctx), acts.Announce, m))
}

// announceLocal is announce from this worker, as a local activity: the message a run closes on
// then costs it no trip through the task queue. The announcement itself only hands the message
// to the channel's notification run, which delivers it to Slack and retries.
func announceLocal(ctx workflow.Context, rec *record, m notify.Message) {
	m.RunID = workflow.GetInfo(ctx).WorkflowExecution.ID
	sent(ctx, rec, m, execute(shortCtx(withLocalActivities(ctx)), acts.Announce, m))
}

// sent records how an announcement went.
func sent(ctx workflow.Context, rec *record, m notify.Message, f workflow.Future) {
	if err := f.Get(ctx, nil); err != nil {
		rec.add(ctx, systemActor, "announce "+m.Kind, contract.StateFailed, err.Error())
		return
	}
	rec.add(ctx, systemActor, "announce "+m.Kind, "sent", "to "+m.Channel)
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
