package activities

import (
	"context"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/probe"
)

// Probes holds the checks against a target's live backend and the changes made through its
// control API: the rotation's validation, and the emergency run's canary, revocation, route
// restrictions and cutover checks (invalidation.go).
type Probes struct {
	Targets
}

// validationSecrets reads the values of the live and the retired version that a validation checks with.
func validationSecrets(ctx context.Context, store secretStore, in contract.ValidateInput) (live, retired string, err error) {
	if _, live, err = versionRef(ctx, store, in.LiveVersionID); err != nil {
		return "", "", err
	}
	if in.RetiredVersionID != "" {
		if _, retired, err = versionRef(ctx, store, in.RetiredVersionID); err != nil {
			return "", "", err
		}
	}
	return live, retired, nil
}

// Validate runs the rotation checklist against the live backend: health, login, token issued
// with the live secret, tokens of the retired secret rejected, tampered and alg=none rejected,
// privilege probe. Failed checks are returned, not raised, so they land in the run's artifacts.
//
// Restrictions are only those passed in: each restricted prefix must answer its status, and a
// check that the restriction answered first (the privilege probe under /admin) is deferred, not
// passed. The backend's live control state never changes what is checked: a restriction the run
// did not ask for fails the privilege probe instead of quietly replacing it.
func (a *Probes) Validate(ctx context.Context, in contract.ValidateInput) (rs probe.Results, err error) {
	// Heartbeats, so that a worker that dies mid-validation is noticed in seconds, not at the
	// one-minute start-to-close timeout.
	err = heartbeatWhile(ctx, "validating "+in.Target, func() error {
		rs, err = a.validate(ctx, in)
		return err
	})
	return rs, err
}

func (a *Probes) validate(ctx context.Context, in contract.ValidateInput) (probe.Results, error) {
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return nil, err
	}
	live, retired, err := validationSecrets(ctx, store, in)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	pt := a.probe(t)
	rs := pt.VerifyRotation(ctx, creds, claims(t), live, retired)
	rs = append(rs, pt.CheckRestrictions(ctx, in.Restricted)...)
	return probe.DeferRestricted(rs, in.Restricted), nil
}
