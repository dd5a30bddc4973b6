package workflows

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// No one person locks everyone out: who may own an incident, which measures need a second
// person whatever the config says, whose approval counts for which target, and the approval a
// resolve needs to keep measures past the incident.

// targetApprovers are target's own approvers; a policy from before they were listed per target
// gives every target the union.
func (i *incident) targetApprovers(target string) []string {
	if i.policy.TargetApprovers == nil {
		return i.policy.Approvers
	}
	return i.policy.TargetApprovers[target]
}

// affectedApprovers are the approvers of any affected target, in target order, each once; while
// the incident names no target yet (an alert's), those of every target.
func (i *incident) affectedApprovers() []string {
	if len(i.st.Targets) == 0 {
		return i.policy.Approvers
	}
	var out []string
	for _, t := range i.st.Targets {
		for _, a := range i.targetApprovers(t) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// approversOfAll are the people who approve every one of targets: a measure on several targets
// needs someone who answers for each of them.
func (i *incident) approversOfAll(targets []string) []string {
	if len(targets) == 0 {
		return nil
	}
	var out []string
	for _, a := range i.targetApprovers(targets[0]) {
		if !slices.Contains(out, a) && !slices.ContainsFunc(targets[1:], func(t string) bool { return !slices.Contains(i.targetApprovers(t), a) }) {
			out = append(out, a)
		}
	}
	return out
}

// measureTargets are the targets a request acts on: its own, or every affected target.
func (i *incident) measureTargets(req contract.ContainRequest) []string {
	if req.Target != "" {
		return []string{req.Target}
	}
	return i.st.Targets
}

// mayOwn reports whether actor may own the incident: an approver of an affected target, or one of
// incident.owners.
func (i *incident) mayOwn(actor string) bool {
	return slices.Contains(i.affectedApprovers(), actor) || slices.Contains(i.policy.Owners, actor)
}

// whyNotOwner says why actor may not own the incident.
func (i *incident) whyNotOwner(actor string) string {
	return fmt.Sprintf("%s may not own %s: it is for the approvers of %s (%s) and the people in incident.owners (%s)",
		actor, i.id, strings.Join(i.st.Targets, ", "), orNone(i.affectedApprovers()), orNone(i.policy.Owners))
}

// isOwner reports whether actor holds the owner's powers: the owner, and, under the second-person
// rules, one who may own (a reporter who may not holds the incident only until someone takes it).
func (i *incident) isOwner(actor string) bool {
	return actor == i.st.Owner && i.mayOwn(actor)
}

// needsSecondPerson says why req can lock out many people and so needs one approver besides the
// asker whatever the config's quorum, or "". The request is valid (Validate and checkRequest).
func (i *incident) needsSecondPerson(req contract.ContainRequest) string {
	switch req.Kind {
	case contract.ContainLogoutAll:
		return "a global logout locks everyone out"
	case contract.ContainRequireReset:
		for _, u := range req.Users {
			if slices.ContainsFunc(i.policy.AdminAccounts, func(a string) bool { return strings.EqualFold(a, u) }) {
				return u + " is an admin account"
			}
		}
		if n := len(req.Users); n > i.policy.ResetWithoutQuorum {
			return fmt.Sprintf("it resets %d account(s), more than incident.reset_without_quorum (%d)", n, i.policy.ResetWithoutQuorum)
		}
	case contract.ContainDenyCIDR:
		if req.Force {
			return "--force lets through a range that locks out everyone or the worker's probes"
		}
		w := i.policy.DenyWithoutQuorum
		if w.IPv4 <= 0 {
			w.IPv4 = contract.DefaultDenyWithoutQuorum4
		}
		if w.IPv6 <= 0 {
			w.IPv6 = contract.DefaultDenyWithoutQuorum6
		}
		for _, c := range req.CIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				continue // refused by checkRequest
			}
			bits, limit, family := p.Bits(), w.IPv6, "ipv6"
			switch {
			case p.Addr().Is4():
				limit, family = w.IPv4, "ipv4"
			case p.Addr().Is4In6() && bits >= 96:
				// A mapped range is the IPv4 range it maps.
				bits, limit, family = bits-96, w.IPv4, "ipv4"
			}
			if bits < limit {
				return fmt.Sprintf("%s is wider than /%d (incident.deny_without_quorum.%s)", c, limit, family)
			}
		}
	}
	return ""
}

// enough says why approvers cannot meet quorum without asker, or "".
func enough(approvers []string, asker string, quorum int, what string) string {
	n := 0
	for _, a := range approvers {
		if a != asker {
			n++
		}
	}
	if n >= quorum {
		return ""
	}
	return fmt.Sprintf("%s needs %d approvers besides %s, and there are %d (approvers: %s); nothing was changed",
		what, quorum, asker, n, orNone(approvers))
}

// askKeep has a resolve that keeps measures wait for an approver of their targets besides the
// one who resolves. Nothing to keep resolves at once.
func (i *incident) askKeep(ctx workflow.Context, actor string, req contract.ResolveRequest) (string, string) {
	var ids, targets, items []string
	for _, m := range i.st.Measures {
		if !m.Request.Undoable() || !m.Undone.IsZero() || !slices.Contains(req.Keep, m.Request.Kind) {
			continue
		}
		if !slices.Contains(ids, m.ActionID) {
			ids = append(ids, m.ActionID)
		}
		if !slices.Contains(targets, m.Target) {
			targets = append(targets, m.Target)
		}
		items = append(items, keptItem(m))
	}
	if len(ids) == 0 {
		i.resolving = &resolveAsk{by: actor, req: req}
		return "", "resolving; nothing to keep: no " + strings.Join(req.Keep, " or ") + " measure is in force"
	}
	approvers := i.approversOfAll(targets)
	what := "keeping " + strings.Join(ids, ", ") + " past the incident"
	if why := enough(approvers, actor, 1, what); why != "" {
		return why, ""
	}
	keepFor := req.KeepFor
	if keepFor == 0 {
		keepFor = i.policy.KeepFor
	}
	if keepFor <= 0 {
		keepFor = contract.DefaultKeepFor
	}
	now := workflow.Now(ctx).UTC()
	g := newGate(i.rec, approvers, actor, 1)
	g.asked = "asked to keep " + strings.Join(ids, ", ")
	i.keepGate = g
	until := now.Add(keepFor)
	i.st.Keeping = &contract.PendingKeep{By: actor, AskedAt: now, Request: req, Measures: ids, Until: until,
		Approvers: approvers, State: "pending", Detail: g.progress()}
	kept := fmt.Sprintf("%s until %s", strings.Join(items, "; "), until.Format(time.RFC3339))
	i.announce(ctx, "approval", fmt.Sprintf("Incident %s: %s resolves and asks to keep %s past the incident (%s). Approve: starter approve %s --action %s",
		i.id, actor, kept, g.progress(), i.id, contract.KeepAction), approvers...)
	return "", fmt.Sprintf("resolve waits for approval to keep %s: %s", kept, g.progress())
}

func keptItem(m contract.Measure) string {
	s := m.ActionID + " " + m.Request.Describe()
	if m.Request.Target == "" {
		s += " on " + m.Target
	}
	return s
}

// decidesKeep reports whether an approve or reject is for the resolve waiting to keep measures:
// it names the keep action (--action keep), never by default.
func (i *incident) decidesKeep(d contract.Decision) bool {
	var ref contract.ActionRef
	return i.keepGate != nil && i.keepGate.open && d.Args != "" && json.Unmarshal([]byte(d.Args), &ref) == nil &&
		ref.Action == contract.KeepAction
}

// keepBound says why a decision on the keep is not for the keep waiting now, or "": it carries
// the digest of what the approver saw (the measures, the expiry, the resolve).
func (i *incident) keepBound(d contract.Decision) string {
	var ref contract.ActionRef
	if json.Unmarshal([]byte(d.Args), &ref) != nil || ref.Digest != i.st.Keeping.Digest() {
		return fmt.Sprintf("keep: this decision was not signed for the keep waiting now (%s until %s); read it again (starter status %s)",
			strings.Join(i.st.Keeping.Measures, ", "), i.st.Keeping.Until.Format(time.RFC3339), i.id)
	}
	return ""
}

// approveKeep: an approver of the kept measures' targets, not the one who resolves, agrees; the
// incident then resolves, keeping them with their owner and expiry.
func (i *incident) approveKeep(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	g, k := i.keepGate, i.st.Keeping
	if why := g.mayApprove(actor); why != "" {
		return contract.KeepAction + ": " + why, ""
	}
	if why := i.keepBound(d); why != "" {
		return why, ""
	}
	if open := i.openRuns(); len(open) > 0 {
		return "runs the incident started are still open: " + strings.Join(open, ", ") + "; approve once they close", ""
	}
	if why, _ := g.approve(ctx, actor, d); why != "" {
		return contract.KeepAction + ": " + why, ""
	}
	g.open = false
	k.State, k.Detail = "approved", g.progress()
	i.resolving = &resolveAsk{by: k.By, req: k.Request, keep: k.Measures, keptApprovedBy: actor, keptUntil: k.Until}
	return "", fmt.Sprintf("keep approved by %s: %s stay in force until %s, owned by %s; resolving",
		actor, strings.Join(k.Measures, ", "), k.Until.Format(time.RFC3339), k.By)
}

// rejectKeep: an approver, or the one who resolved withdrawing, rejects keeping; the incident
// stays open.
func (i *incident) rejectKeep(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	if why := i.keepBound(d); why != "" {
		return why, ""
	}
	if why, _ := i.keepGate.reject(ctx, actor, d); why != "" {
		return contract.KeepAction + ": " + why, ""
	}
	k := i.st.Keeping
	i.keepGate, i.st.Keeping = nil, nil
	return "", fmt.Sprintf("resolve keeping %s rejected by %s; nothing changed, the incident stays open", strings.Join(k.Measures, ", "), actor)
}

// openRuns are the child and linked runs still open, sorted.
func (i *incident) openRuns() []string {
	var open []string
	for id := range i.running {
		open = append(open, id)
	}
	slices.Sort(open)
	return open
}
