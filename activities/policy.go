package activities

import (
	"context"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
)

// Policies reads the runbooks' policies from config: public keys, approvers, quorums, clocks.
type Policies struct {
	Config *config.Config
}

// LoadPolicy returns the target's policy. An unknown target is a non-retryable error.
func (a *Policies) LoadPolicy(ctx context.Context, target string) (contract.Policy, error) {
	t, err := configTarget(a.Config, target)
	if err != nil {
		return contract.Policy{}, err
	}
	// Public keys only: they go into the run's history, and the run verifies decisions against them.
	people, err := a.Config.People()
	if err != nil {
		return contract.Policy{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	gateway, err := a.Config.GatewayKeys()
	if err != nil {
		return contract.Policy{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return contract.Policy{
		People:                   people,
		GatewayKeys:              gateway,
		RotationQuorum:           t.Quorum.Rotation,
		EmergencyQuorum:          t.Quorum.Emergency,
		ApprovalValidity:         t.Rotation.ApprovalValidity.D(),
		MaxWindowAhead:           t.Rotation.MaxWindowAhead.D(),
		Target:                   t.Name,
		BaseURL:                  t.BaseURL,
		Channel:                  t.Channel,
		Approvers:                t.Approvers,
		ApprovalTimeout:          t.Rotation.ApprovalTimeout.D(),
		ReminderInterval:         t.Rotation.ReminderInterval.D(),
		ObservationWindow:        t.Rotation.ObservationWindow.D(),
		ClosedWindow:             t.Rotation.ClosedWindow,
		EmergencyApprovalTimeout: t.Emergency.ApprovalTimeout.D(),
		DeployTimeout:            t.Deployer.Timeout.D() + t.Deployer.ReadinessTimeout.D(),
		Timeouts:                 a.Config.Timeouts.Contract(),
		Freeze:                   t.Freeze,
	}, nil
}

// LoadIncidentPolicy returns the incident policy: every target, its approvers (and their
// union), people, gateway keys, clocks, status cadences, action rules and the second-person
// rules.
func (a *Policies) LoadIncidentPolicy(ctx context.Context) (contract.IncidentPolicy, error) {
	people, err := a.Config.People()
	if err != nil {
		return contract.IncidentPolicy{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	gateway, err := a.Config.GatewayKeys()
	if err != nil {
		return contract.IncidentPolicy{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	names := a.Config.TargetNames()
	ic := a.Config.Incident
	p := contract.IncidentPolicy{
		Targets:      names,
		Approvers:    a.Config.Approvers(),
		People:       people,
		GatewayKeys:  gateway,
		OwnerAck:     ic.OwnerAck.D(),
		FirstSteps:   ic.FirstSteps.D(),
		StatusEvery:  map[string]time.Duration{},
		Actions:      map[string]contract.ActionRule{},
		HistoryLimit: ic.HistoryLimit,
		Timeouts:     a.Config.Timeouts.Contract(),

		DedicatedChannel: ic.DedicatedChannel,

		TargetApprovers:   map[string][]string{},
		Owners:            slices.Clone(ic.Owners),
		AdminAccounts:     a.Config.AdminAccounts(),
		DenyWithoutQuorum: ic.DenyWithoutQuorum.Contract(),
		KeepFor:           ic.KeepFor.D(),
	}
	if ic.ResetWithoutQuorum != nil {
		p.ResetWithoutQuorum = *ic.ResetWithoutQuorum
	}
	for _, n := range names {
		p.TargetApprovers[n] = slices.Clone(a.Config.Targets[n].Approvers)
	}
	if len(names) > 0 {
		p.Channel = a.Config.Targets[names[0]].Channel
	}
	for sev, d := range ic.StatusEvery {
		p.StatusEvery[sev] = d.D()
	}
	for kind, r := range ic.Actions {
		p.Actions[kind] = contract.ActionRule{Who: slices.Clone(r.Who), Quorum: r.Quorum}
	}
	return p, nil
}
