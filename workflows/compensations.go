package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
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
