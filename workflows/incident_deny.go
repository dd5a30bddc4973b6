package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// A denied range is denied: the ranges a deny-cidr names are put in their one normal form
// (contract.NormalizeCIDR) before anything stores or shows them, and the lock-out guard judges
// them with the ranges already in force on each target, not one range alone.

// checkDeny judges a deny-cidr request and, when it passes, leaves its ranges in the normal form
// in req, which is what the run applies, stores, verifies and reports from then on.
func (i *incident) checkDeny(ctx workflow.Context, req *contract.ContainRequest) string {
	var cidrs []string
	for _, c := range req.CIDRs {
		p, err := contract.NormalizeCIDR(c)
		if err != nil {
			return err.Error()
		}
		if s := p.String(); !slices.Contains(cidrs, s) {
			cidrs = append(cidrs, s)
		}
	}
	targets := i.st.Targets
	if req.Target != "" {
		targets = []string{req.Target}
	}
	for _, t := range targets {
		if err := contract.CheckDenyRanges(i.deniedOn(t), req.CIDRs, req.Force, i.probeFrom(t)); err != nil {
			if len(targets) > 1 {
				return "on " + t + ": " + err.Error()
			}
			return err.Error()
		}
	}
	req.CIDRs = cidrs
	return ""
}

// deniedOn lists the ranges denied on target, or about to be: the deny measures in force there,
// and the deny actions still waiting for approval that act on it (an approval applies them
// without judging them again).
func (i *incident) deniedOn(target string) []string {
	var out []string
	for _, m := range i.st.Measures {
		if m.Target == target && m.Undone.IsZero() && m.Request.Kind == contract.ContainDenyCIDR {
			out = append(out, m.Request.CIDRs...)
		}
	}
	for _, pa := range i.st.Pending {
		if pa.State == "pending" && pa.Request.Kind == contract.ContainDenyCIDR && (pa.Request.Target == "" || pa.Request.Target == target) {
			out = append(out, pa.Request.CIDRs...)
		}
	}
	return out
}

// verifyNote sums a target's verification up for the timeline: how many checks passed, where
// each denied range was probed from, and what was not probed or deferred, which never count as
// passed.
func verifyNote(rs contract.ProbeResults) string {
	passed := len(rs.Passed())
	s := fmt.Sprintf("all %d checks pass", passed)
	if passed < len(rs) {
		s = fmt.Sprintf("%d of %d checks pass", passed, len(rs))
	}
	if failed := rs.Failed(); len(failed) > 0 {
		s = failedResults(rs)
	}
	var probed []string
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "denied_range_refused ") && !r.NotProbed && !r.Deferred && r.Got != 0 {
			probed = append(probed, fmt.Sprintf("%s: %d%s", r.Name, r.Got, detailSuffix(r.Detail)))
		}
	}
	if len(probed) > 0 {
		s += "; probed: " + strings.Join(probed, "; ")
	}
	var skipped []string
	for _, r := range rs.NotProbed() {
		skipped = append(skipped, r.Name+detailSuffix(r.Detail))
	}
	if len(skipped) > 0 {
		s += fmt.Sprintf("; %d not probed (not counted as passed): %s", len(skipped), strings.Join(skipped, "; "))
	}
	if d := rs.Deferred(); len(d) > 0 {
		s += fmt.Sprintf("; %d deferred", len(d))
	}
	return s
}
