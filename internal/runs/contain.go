package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authops/authops/contract"
)

// DefaultRestrictTTL is how long an invalidation's restricted routes stay closed when the
// sender gives no time.
const DefaultRestrictTTL = 30 * time.Minute

// ContainRequest asks for one containment action on an incident.
type ContainRequest struct {
	Run
	Actor string
	contract.ContainRequest
}

// ContainArg reads a containment action's one argument (a list of users or ranges, a log
// level) into req.
func ContainArg(req *contract.ContainRequest, arg string) error {
	list := func() ([]string, error) {
		if arg == "" {
			return nil, nil
		}
		var out []string
		for p := range strings.SplitSeq(arg, ",") {
			if p = strings.TrimSpace(p); p == "" {
				return nil, fmt.Errorf("%s %q is malformed: empty item in the list", req.Kind, contract.CleanText(arg))
			}
			out = append(out, p)
		}
		return out, nil
	}
	var err error
	switch req.Kind {
	case contract.ContainLogoutUsers, contract.ContainRequireReset:
		req.Users, err = list()
	case contract.ContainDenyCIDR:
		req.CIDRs, err = list()
	case contract.ContainLogLevel:
		req.Level = arg
	default:
		if arg != "" && slices.Contains(contract.ContainKinds, req.Kind) {
			return fmt.Errorf("%s takes no argument, got %q", req.Kind, contract.CleanText(arg))
		}
	}
	return err
}

// Contain asks for the action. An invalidate or a rotate starts a child run, whose start is
// signed here and goes with the decision.
func (c *Client) Contain(ctx context.Context, s Signer, req ContainRequest) (DecisionAnswer, error) {
	cr := req.ContainRequest
	if len(cr.Restrict) > 0 && cr.Kind != contract.ContainInvalidate {
		return DecisionAnswer{}, errors.New("--restrict goes with invalidate")
	}
	if len(cr.Restrict) == 0 {
		cr.RestrictTTL = 0
	}
	if cr.TTL != 0 && cr.Kind != contract.ContainDenyCIDR {
		return DecisionAnswer{}, errors.New("--ttl goes with deny-cidr")
	}
	if err := checkContain(cr); err != nil {
		return DecisionAnswer{}, fmt.Errorf("contain refused, nothing was sent: %w", err)
	}
	if cr.Target != "" {
		cfg, err := c.config(cr.Target)
		if err != nil {
			return DecisionAnswer{}, err
		}
		if _, err := cfg.Target(cr.Target); err != nil {
			return DecisionAnswer{}, fmt.Errorf("--target: %w", err)
		}
	}
	d := contract.Decision{Actor: req.Actor, Comment: cr.Reason}
	id := req.WorkflowID
	if cr.Kind != contract.ContainInvalidate && cr.Kind != contract.ContainRotate {
		d.Args = Canonical(cr)
		return c.incidentDecision(ctx, s, req.Run, contract.UpdateContain, d, nil)
	}
	return c.incidentDecision(ctx, s, req.Run, contract.UpdateContain, d,
		func(ctx context.Context, tc Temporal, sg *signing, d *contract.Decision, _ *DecisionAnswer) error {
			return prepareChildStart(ctx, tc, sg, id, cr, d)
		})
}

// checkContain refuses locally what the run would refuse: a malformed request, a bad or
// too-broad range, an invalidation without a reason.
func checkContain(req contract.ContainRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	var errs []error
	if len(req.CIDRs) > 0 {
		// The run judges them again with the ranges already in force, which only it knows.
		errs = append(errs, contract.CheckDenyRanges(nil, req.CIDRs, req.Force, nil))
	}
	if req.Kind == contract.ContainInvalidate && strings.TrimSpace(req.Reason) == "" {
		errs = append(errs, errors.New("invalidate needs --reason: it is the emergency run's reason, signed with its start"))
	}
	if req.RestrictTTL < 0 {
		errs = append(errs, errors.New("--restrict-ttl must not be negative"))
	}
	return errors.Join(errs...)
}

// prepareChildStart picks the target of an invalidate or rotate (the incident's only one when
// none is given) and signs the child run's start, which goes with the decision. The start binds
// the child's input as the incident will build it (its trigger comes from the run).
func prepareChildStart(ctx context.Context, c queryClient, sg *signing, id string, req contract.ContainRequest, d *contract.Decision) error {
	var st contract.IncidentStatus
	if req.Target == "" || req.Kind == contract.ContainInvalidate {
		if err := queryRun(ctx, c, id, contract.QueryIncident, &st); err != nil {
			return err
		}
	}
	if req.Target == "" {
		if len(st.Targets) != 1 {
			return fmt.Errorf("--target is required for %s: %s affects %s; nothing was sent", req.Kind, id,
				contract.CleanText(strings.Join(st.Targets, ", ")))
		}
		req.Target = st.Targets[0]
	}
	childID, action := contract.InvalidationID(req.Target), contract.ActionStartInvalidation
	args := contract.IncidentInvalidation(id, st.Trigger, sg.key.Actor, req).StartArgs()
	if req.Kind == contract.ContainRotate {
		childID, action = contract.RotationID(req.Target), contract.ActionStartRotation
		args = contract.IncidentRotation(id, sg.key.Actor, req).StartArgs()
	}
	start, err := sg.sign(childID, "", action, req.Reason, args)
	if err != nil {
		return err
	}
	d.Start, d.Args = start, Canonical(req)
	return nil
}
