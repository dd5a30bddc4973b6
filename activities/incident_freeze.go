package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/freeze"
)

// FrozenBy returns the id of a running incident, other than in.Exempt, that freezes in.Target,
// or "".
func (a *Incidents) FrozenBy(ctx context.Context, in contract.FreezeInput) (string, error) {
	if _, err := a.target(in.Target); err != nil {
		return "", err
	}
	if a.Freezes == nil {
		activity.GetLogger(ctx).Warn("this worker has no Temporal client to read freezes with; treating the target as not frozen", "target", in.Target)
		return "", nil
	}
	fs, err := freeze.List(ctx, a.Freezes, activity.GetInfo(ctx).Namespace, in.Target)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if f.Incident != in.Exempt {
			return f.Incident, nil
		}
	}
	return "", nil
}
