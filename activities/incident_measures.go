package activities

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/edge"
)

// ApplyMeasure applies a containment measure through the target's control API and reads the
// state back.
func (a *Incidents) ApplyMeasure(ctx context.Context, in contract.MeasureInput) (contract.MeasureResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return contract.MeasureResult{}, err
	}
	r := in.Request
	if err := r.Validate(); err != nil {
		return contract.MeasureResult{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	c, err := a.controls(t)
	if err != nil {
		return contract.MeasureResult{}, err
	}
	var res contract.MeasureResult
	var did string
	var edgeState edge.State
	switch r.Kind {
	case contract.ContainLogoutAll:
		rev, err := c.RevokeSessions(ctx, "")
		if err != nil {
			return contract.MeasureResult{}, controlErr(err)
		}
		did = fmt.Sprintf("revoked %d sessions, every token issued before %s", rev.Revoked, rev.Cutoff.UTC().Format(time.RFC3339))
	case contract.ContainLogoutUsers:
		n, err := revokeUsers(ctx, c, r.Users)
		if err != nil {
			return contract.MeasureResult{}, err
		}
		did = fmt.Sprintf("revoked %d sessions of %s", n, strings.Join(r.Users, ", "))
	case contract.ContainDenyCIDR:
		cidrs, err := a.checkDeny(ctx, t, r)
		if err != nil {
			return contract.MeasureResult{}, err
		}
		if err := checkEdgeInput(t, cidrs, nil, 0); err != nil {
			return contract.MeasureResult{}, err
		}
		// The edge first: it is where traffic is cut, and a range its check refuses then
		// changes nothing anywhere. The backend's deny stays, for requests that reach it directly.
		if edgeState, err = a.edgeDeny(ctx, t, cidrs, true); err != nil {
			return contract.MeasureResult{}, err
		}
		if err := c.DenyCIDRs(ctx, cidrs); err != nil {
			return contract.MeasureResult{}, controlErr(err)
		}
		did = "denied " + strings.Join(cidrs, ", ")
	case contract.ContainLogLevel:
		prev, err := setLogLevel(ctx, c, r.Level)
		if err != nil {
			return contract.MeasureResult{}, err
		}
		res.Previous = prev
		did = fmt.Sprintf("log level %s (was %s)", r.Level, prev)
	case contract.ContainRequireReset:
		if err := c.RequirePasswordReset(ctx, r.Users, true); err != nil {
			return contract.MeasureResult{}, controlErr(err)
		}
		// The demo backend revokes them with the reset; a backend that does not gets them revoked here.
		if _, err := revokeUsers(ctx, c, r.Users); err != nil {
			return contract.MeasureResult{}, err
		}
		did = fmt.Sprintf("password reset required for %s; their sessions revoked", strings.Join(r.Users, ", "))
	default:
		return contract.MeasureResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s is a runbook run, not a measure of the control API", r.Kind), contract.ErrTypeConfig, nil)
	}
	st, err := c.State(ctx)
	if err != nil {
		return contract.MeasureResult{}, controlErr(err)
	}
	if err := checkApplied(r, st); err != nil {
		return contract.MeasureResult{}, err
	}
	did += "; " + describeState(r.Kind, st)
	if r.Kind == contract.ContainDenyCIDR {
		seen, err := a.readEdgeDeny(ctx, t, edgeState, r.CIDRs, true)
		if err != nil {
			return contract.MeasureResult{}, err
		}
		did = strings.TrimSuffix(did+"; "+seen, "; ")
	}
	res.Detail = contract.CleanText(did)
	return res, nil
}

// revokeUsers revokes every session of the users, all of them or, when one is unknown (the
// control API's 400), none, and returns how many there were.
func revokeUsers(ctx context.Context, c controls.Client, users []string) (int, error) {
	// An empty list would revoke every session: the API takes it for a global logout.
	if len(users) == 0 {
		return 0, temporal.NewNonRetryableApplicationError("no users given", contract.ErrTypeConfig, nil)
	}
	rev, err := c.RevokeUsers(ctx, users)
	if err != nil {
		return 0, controlErr(err)
	}
	return rev.Revoked, nil
}

// checkDeny puts the ranges in their normal form and refuses one that is invalid, or, without
// force, ranges that together lock everyone or the worker's own probes out: the workflow checks
// this too (with the incident's other ranges), this is the last line.
func (a *Incidents) checkDeny(ctx context.Context, t *config.Target, r contract.ContainRequest) ([]string, error) {
	if err := contract.CheckDenyRanges(nil, r.CIDRs, r.Force, a.probeFrom(ctx, t)); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	cidrs, err := contract.NormalizeCIDRs(r.CIDRs)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return cidrs, nil
}

// setLogLevel sets the level and returns the level before. The level before is kept in the
// activity's heartbeat details, so a retry after the change still returns the original level
// rather than the one this measure set.
func setLogLevel(ctx context.Context, c controls.Client, level string) (string, error) {
	var prev string
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prev); err != nil {
			prev = ""
		}
	}
	if prev == "" {
		st, err := c.State(ctx)
		if err != nil {
			return "", controlErr(err)
		}
		prev = st.LogLevel
		activity.RecordHeartbeat(ctx, prev)
	}
	if _, err := c.SetLogLevel(ctx, level); err != nil {
		return "", controlErr(err)
	}
	return prev, nil
}

// checkApplied reads the measure back from the backend's state: a measure the state does not
// show was not applied, whatever the control API answered.
func checkApplied(r contract.ContainRequest, st controls.State) error {
	switch r.Kind {
	case contract.ContainDenyCIDR:
		for _, s := range r.CIDRs {
			if !deniedIn(st, s) {
				return fmt.Errorf("deny %s: the backend's state does not list it (denies: %s)", s, noneIfEmpty(strings.Join(st.DeniedCIDRs, ", ")))
			}
		}
	case contract.ContainLogLevel:
		if st.LogLevel != r.Level {
			return fmt.Errorf("log level %s: the backend's state says %s", r.Level, st.LogLevel)
		}
	case contract.ContainRequireReset:
		for _, u := range r.Users {
			if !slices.Contains(st.PasswordResetUsers, u) {
				return fmt.Errorf("password reset of %s: the backend's state does not list it", u)
			}
		}
	}
	return nil
}

// deniedIn reports whether the state's deny list holds cidr, both in the normal form.
func deniedIn(st controls.State, cidr string) bool {
	p, ok := denyForm(cidr)
	if !ok {
		return false
	}
	return slices.ContainsFunc(st.DeniedCIDRs, func(d string) bool {
		q, ok := denyForm(d)
		return ok && q == p
	})
}

// denyForm is a range in the normal form (contract.NormalizeCIDR), or, for a range that form
// refuses (host bits set, written before the normal form), masked as the backend stores it.
func denyForm(cidr string) (netip.Prefix, bool) {
	if p, err := contract.NormalizeCIDR(cidr); err == nil {
		return p, true
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// describeState says what the backend's state shows about a kind of measure.
func describeState(kind string, st controls.State) string {
	switch kind {
	case contract.ContainDenyCIDR:
		return "backend denies: " + noneIfEmpty(strings.Join(st.DeniedCIDRs, ", "))
	case contract.ContainLogLevel:
		return "backend log level: " + st.LogLevel
	case contract.ContainRequireReset:
		return fmt.Sprintf("backend resets: %s; active sessions: %d", noneIfEmpty(strings.Join(st.PasswordResetUsers, ", ")), st.ActiveSessions)
	default:
		s := fmt.Sprintf("backend: %d active sessions, %d revoked", st.ActiveSessions, st.RevokedSessions)
		if st.RevokedBefore != nil {
			s += ", cutoff " + st.RevokedBefore.UTC().Format(time.RFC3339)
		}
		return s
	}
}

// UndoMeasure undoes a temporary measure and verifies it is gone.
func (a *Incidents) UndoMeasure(ctx context.Context, in contract.MeasureInput) (contract.MeasureResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return contract.MeasureResult{}, err
	}
	r := in.Request
	nonRetryable := func(msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, contract.ErrTypeConfig, nil)
	}
	switch r.Kind {
	case contract.ContainDenyCIDR:
		// An empty list would allow every range: the control API lifts all denies then.
		if len(r.CIDRs) == 0 {
			return contract.MeasureResult{}, nonRetryable("undo deny-cidr: no CIDRs given")
		}
		if err := controls.ValidateCIDRs(r.CIDRs); err != nil {
			return contract.MeasureResult{}, nonRetryable("undo deny-cidr: " + err.Error())
		}
	case contract.ContainLogLevel:
		if !slices.Contains(contract.LogLevels, in.Previous) {
			return contract.MeasureResult{}, nonRetryable(fmt.Sprintf("undo log-level: the level to restore must be one of %s, got %q",
				strings.Join(contract.LogLevels, ", "), contract.CleanText(in.Previous)))
		}
	default:
		return contract.MeasureResult{}, nonRetryable(fmt.Sprintf("%s has no undo", contract.CleanText(r.Kind)))
	}
	c, err := a.controls(t)
	if err != nil {
		return contract.MeasureResult{}, err
	}
	// The edge takes the normal form; a range from before it (host bits set) is masked, as the
	// backend stores it.
	var edgeCIDRs []string
	for _, s := range r.CIDRs {
		if p, ok := denyForm(s); ok {
			edgeCIDRs = append(edgeCIDRs, p.String())
		}
	}
	var did string
	var edgeState edge.State
	if r.Kind == contract.ContainDenyCIDR {
		if edgeState, err = a.edgeDeny(ctx, t, edgeCIDRs, false); err != nil {
			return contract.MeasureResult{}, err
		}
		if err := c.AllowCIDRs(ctx, r.CIDRs); err != nil {
			return contract.MeasureResult{}, controlErr(err)
		}
		did = "allowed " + strings.Join(r.CIDRs, ", ")
	} else {
		if _, err := c.SetLogLevel(ctx, in.Previous); err != nil {
			return contract.MeasureResult{}, controlErr(err)
		}
		did = "log level restored to " + in.Previous
	}
	st, err := c.State(ctx)
	if err != nil {
		return contract.MeasureResult{}, controlErr(err)
	}
	if r.Kind == contract.ContainDenyCIDR {
		for _, s := range r.CIDRs {
			if deniedIn(st, s) {
				return contract.MeasureResult{}, fmt.Errorf("undo deny %s: the backend still denies it (denies: %s)", s, strings.Join(st.DeniedCIDRs, ", "))
			}
		}
		seen, err := a.readEdgeDeny(ctx, t, edgeState, edgeCIDRs, false)
		if err != nil {
			return contract.MeasureResult{}, err
		}
		did = strings.TrimSuffix(did+"; "+describeState(r.Kind, st)+"; "+seen, "; ")
	} else if st.LogLevel != in.Previous {
		return contract.MeasureResult{}, fmt.Errorf("undo log-level: the backend's state says %s, not %s", st.LogLevel, in.Previous)
	} else {
		did += "; " + describeState(r.Kind, st)
	}
	return contract.MeasureResult{Detail: contract.CleanText(did)}, nil
}

// noneIfEmpty says "none" for an empty list.
func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
