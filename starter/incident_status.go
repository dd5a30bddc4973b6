package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authops/authops/contract"
)

// writeIncidentStatus prints an incident's state: who owns it, how bad, what it froze, the
// actions waiting for approval, the measures in force and the runs it started.
func writeIncidentStatus(w io.Writer, id, runID string, st contract.IncidentStatus) error {
	clean := contract.CleanText
	join := func(items []string) string {
		if len(items) == 0 {
			return "none"
		}
		out := make([]string, len(items))
		for i, s := range items {
			out[i] = clean(s)
		}
		return strings.Join(out, ", ")
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	fmt.Fprintf(w, "%s  auth-incident  severity=%s  trigger=%s", clean(id), clean(st.Severity), clean(st.Trigger))
	if st.Outcome != "" {
		fmt.Fprintf(w, "  outcome=%s", clean(st.Outcome))
	}
	fmt.Fprintln(w)
	if runID != "" {
		fmt.Fprintf(w, "run %s\n", clean(runID))
	}
	fmt.Fprintf(w, "declared %s by %s (%s): %s\n", ts(st.DeclaredAt), clean(st.Reporter), clean(st.Source), clean(st.Summary))
	if st.Phase != "" {
		fmt.Fprintf(w, "phase: %s\n", clean(st.Phase))
	}
	fmt.Fprintf(w, "owner: %s\n", orDefault(clean(st.Owner), "none"))
	fmt.Fprintf(w, "targets: %s\n", join(st.Targets))
	fmt.Fprintf(w, "frozen: %s\n", join(st.Frozen))
	if c := st.Channel; c != nil {
		fmt.Fprintf(w, "slack channel: #%s (%s), invited %s", clean(c.Name), clean(c.ID), join(c.Invited))
		if len(c.Skipped) > 0 {
			fmt.Fprintf(w, "; not invited: %s", join(c.Skipped))
		}
		fmt.Fprintln(w)
	}
	if st.LastStatusUpdate.IsZero() {
		fmt.Fprintln(w, "last status update: none")
	} else {
		fmt.Fprintf(w, "last status update: %s\n", ts(st.LastStatusUpdate))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Checklist) > 0 {
		fmt.Fprintln(tw, "checklist:")
		for _, s := range st.Checklist {
			at := ""
			if !s.At.IsZero() {
				at = ts(s.At)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", clean(s.Name), clean(s.State), at)
		}
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(tw, "actions:")
		for _, p := range st.Pending {
			approvals := fmt.Sprintf("approvals %d of %d", len(p.Approvals), p.Quorum)
			if len(p.Approvals) > 0 {
				approvals += ": " + join(p.Approvals)
			}
			line := fmt.Sprintf("  %s\t%s\t%s\tasked by %s at %s\t%s", clean(p.ID), p.Request.Describe(), clean(p.State),
				clean(p.Asker), ts(p.AskedAt), approvals)
			if p.Detail != "" {
				line += "\t" + clean(p.Detail)
			}
			fmt.Fprintln(tw, line)
		}
	}
	if k := st.Keeping; k != nil {
		fmt.Fprintf(tw, "resolve by %s keeping %s until %s:\t%s\t%s\n", clean(k.By), join(k.Measures), ts(k.Until), clean(k.State), clean(k.Detail))
	}
	if len(st.Measures) > 0 {
		fmt.Fprintln(tw, "measures:")
		for _, m := range st.Measures {
			state := "in force"
			switch {
			case !m.Undone.IsZero():
				state = "undone " + ts(m.Undone)
			case m.Kept && !m.KeptUntil.IsZero():
				state = fmt.Sprintf("kept until %s, owned by %s, approved by %s", ts(m.KeptUntil), clean(m.KeptBy), clean(m.KeptApprovedBy))
			case m.Kept:
				state = "kept"
			case !m.Expires.IsZero():
				state = "in force until " + ts(m.Expires)
			}
			fmt.Fprintf(tw, "  %s\t%s on %s\tby %s at %s\t%s\n", clean(m.ActionID), m.Request.Describe(), clean(m.Target),
				clean(m.By), ts(m.At), state)
		}
	}
	if len(st.Children) > 0 {
		fmt.Fprintln(tw, "runs:")
		for _, ch := range st.Children {
			how := "started"
			if ch.Linked {
				how = "linked"
			}
			outcome := orDefault(clean(ch.Outcome), "running")
			if ch.Summary != "" {
				outcome += ": " + clean(ch.Summary)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s on %s\t%s\t%s\n", clean(ch.ActionID), clean(ch.WorkflowID), clean(ch.Runbook),
				clean(ch.Target), how, outcome)
		}
	}
	for _, s := range st.Snapshots {
		fmt.Fprintf(tw, "snapshot of %s at %s:\t%s\tsha256 %s\n", clean(s.Target), ts(s.At), clean(s.Artifact.Path), clean(s.Artifact.Digest))
	}
	return tw.Flush()
}
