// Package report renders a run's contract.Report as a post-incident document (Markdown) or as
// JSON, and builds a Report from the results of the rotation and emergency-invalidation runbooks.
//
// Everything in a Report that came from people (actors, comments, summaries, follow-ups) is
// escaped in one place, esc, so that a comment can never forge a line, a heading, a table cell
// or HTML in the document.
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authops/authops/contract"
)

// Runbook names, as the AuthopsRunbook search attribute spells them.
const (
	RunbookRotation     = "secret-rotation"
	RunbookInvalidation = "emergency-invalidation"
	RunbookIncident     = "auth-incident"
)

// asciiPunct are the characters a backslash escapes in Markdown.
const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// systemActor is the actor of the steps a run takes by itself.
const systemActor = "authops"

// JSON writes r as indented JSON.
func JSON(w io.Writer, r contract.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes r as a post-incident document that reads as-is in a terminal and renders
// as Markdown: title and facts, summary, follow-ups, who did what, config changes (version
// ids and fingerprints only), validation outputs, the UTC timeline, archived parts and
// artifacts.
func Markdown(w io.Writer, r contract.Report) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("# Report: %s\n\n", orNone(r.WorkflowID, "(no workflow id)"))
	p("- **Runbook:** %s\n", orNone(r.Runbook, "unknown"))
	p("- **Targets:** %s\n", list(r.Targets, "none"))
	p("- **Outcome:** %s\n", orNone(r.Outcome, "none yet"))

	p("\n## Summary\n\n")
	if strings.TrimSpace(r.Summary) == "" {
		p("_No summary._\n")
	} else {
		p("> %s\n", esc(r.Summary))
	}

	p("\n## Follow-ups\n\n")
	if len(r.FollowUps) == 0 {
		p("_None._\n")
	}
	for _, f := range r.FollowUps {
		p("- %s\n", esc(f))
	}

	if len(r.Kept) > 0 {
		// Measures left in force past the run: each one's owner and when it is due to be lifted.
		p("\n## Kept past the incident\n\n")
		p("| Action | Measure | Owner | Approved by | Lift by (UTC) |\n| --- | --- | --- | --- | --- |\n")
		for _, k := range r.Kept {
			p("| %s | %s | %s | %s | %s |\n", esc(k.ActionID), esc(k.Item), esc(k.Owner), esc(k.ApprovedBy), when(k.Until))
		}
	}

	p("\n## Who did what\n\n")
	if len(r.Actions) == 0 {
		p("_No actions by people recorded._\n")
	} else {
		p("| Time (UTC) | Who | Action | Detail |\n| --- | --- | --- | --- |\n")
		for _, a := range r.Actions {
			p("| %s | %s | %s | %s |\n", when(a.At), esc(a.Actor), esc(a.Action), esc(a.Detail))
		}
	}

	p("\n## Config changes\n\n")
	if len(r.ConfigChanges) == 0 {
		p("_No config changes._\n")
	} else {
		p("Values are named by version id and fingerprint only.\n\n")
		p("| Time (UTC) | Item | From version | From fingerprint | To version | To fingerprint | Reason |\n")
		p("| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, c := range r.ConfigChanges {
			p("| %s | %s | %s | %s | %s | %s | %s |\n", when(c.At), esc(c.Item), esc(c.FromVersion),
				esc(c.FromFingerprint), esc(c.ToVersion), esc(c.ToFingerprint), esc(c.Reason))
		}
	}

	if np := notProbed(r.Validations); len(np) > 0 {
		// Checks that could not be sent are listed apart: they proved nothing, and no stage
		// counts them as passed.
		p("\n## Not probed\n\n")
		p("| Stage | Check | Detail |\n| --- | --- | --- |\n")
		for _, n := range np {
			p("| %s | %s | %s |\n", esc(n.stage), esc(n.r.Name), esc(n.r.Detail))
		}
	}

	p("\n## Validation outputs\n")
	if len(r.Validations) == 0 {
		p("\n_No validations ran._\n")
	}
	for _, v := range r.Validations {
		verdict := passed(v.OK)
		if n := len(v.Results.NotProbed()); n > 0 {
			verdict += fmt.Sprintf("; %d not probed", n)
		}
		p("\n### Stage: %s (%s)\n\n", orNone(v.Stage, "unnamed"), verdict)
		if len(v.Results) == 0 {
			p("_No probe results._\n")
			continue
		}
		p("| Check | Request | Expected | Got | Result | Time (UTC) | Elapsed | Detail |\n")
		p("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, pr := range v.Results {
			result := passed(pr.OK)
			switch {
			case pr.Deferred:
				result = "deferred"
			case pr.NotProbed:
				result = "not probed"
			}
			p("| %s | %s %s | %d | %d | %s | %s | %d ms | %s |\n", esc(pr.Name), esc(pr.Method), esc(pr.Path),
				pr.Expected, pr.Got, result, when(pr.At), pr.ElapsedMS, esc(pr.Detail))
		}
	}

	p("\n## Timeline (UTC)\n\n")
	if len(r.Timeline) == 0 {
		p("_The timeline is empty._\n")
	} else {
		p("| Time (UTC) | Actor | Action | Outcome | Detail | Verified |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, e := range r.Timeline {
			verified := ""
			if e.Verified {
				verified = "yes"
				if e.Via != "" {
					verified += ", " + esc(e.Via)
				}
			}
			p("| %s | %s | %s | %s | %s | %s |\n", when(e.At), esc(e.Actor), esc(e.Action), esc(e.Outcome),
				esc(e.Detail), verified)
		}
	}

	artifacts := func(title string, refs []contract.ArtifactRef, events bool) {
		if len(refs) == 0 {
			return
		}
		p("\n## %s\n\n", title)
		if events {
			p("| Path | SHA-256 | Events |\n| --- | --- | --- |\n")
		} else {
			p("| Path | SHA-256 |\n| --- | --- |\n")
		}
		for _, a := range refs {
			if events {
				p("| %s | %s | %d |\n", esc(a.Path), esc(a.Digest), a.Events)
			} else {
				p("| %s | %s |\n", esc(a.Path), esc(a.Digest))
			}
		}
	}
	artifacts("Archived timeline parts", r.Archived, true)
	artifacts("Artifacts", r.Artifacts, false)
	return b.Flush()
}

// esc makes text from people safe in any position of the document: control and format
// characters are shown as escapes (contract.CleanText), as are the Unicode line and paragraph
// separators; HTML's specials become entities; every Markdown special is backslash-escaped,
// so that the text can open no heading, list, quote, table cell, code span, emphasis or link.
func esc(s string) string {
	s = contract.CleanText(s)
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\':
			// A backslash is literal unless punctuation follows it (or the line ends, a hard
			// break): CleanText's \u escapes stay readable.
			if i+1 == len(s) || strings.IndexByte(asciiPunct, s[i+1]) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '`', '*', '_', '[', ']', '|', '#', '~', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '-', '+', '=':
			// Only at the start can these open a list item or underline a heading.
			if i == 0 {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '\u2028', '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	// A leading "1." or "1)" would open an ordered list.
	if n := len(out) - len(strings.TrimLeft(out, "0123456789")); n > 0 && n < len(out) && (out[n] == '.' || out[n] == ')') {
		out = out[:n] + `\` + out[n:]
	}
	return out
}

func orNone(s, none string) string {
	if strings.TrimSpace(s) == "" {
		return none
	}
	return esc(s)
}

func list(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = esc(s)
	}
	return strings.Join(out, ", ")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

type stageResult struct {
	stage string
	r     contract.ProbeResult
}

// notProbed are the checks of every stage that could not be sent.
func notProbed(vs []contract.Validation) []stageResult {
	var out []stageResult
	for _, v := range vs {
		for _, r := range v.Results.NotProbed() {
			out = append(out, stageResult{v.Stage, r})
		}
	}
	return out
}

func passed(ok bool) string {
	if ok {
		return "passed"
	}
	return "FAILED"
}

// FromRotation builds the report of a rotation run from its result.
func FromRotation(id string, r contract.RotationResult) contract.Report {
	return contract.Report{
		WorkflowID:    id,
		Runbook:       RunbookRotation,
		Targets:       nonEmpty(r.Target),
		Outcome:       r.Outcome,
		Summary:       r.Summary,
		Actions:       Actions(r.Timeline),
		ConfigChanges: r.Changes,
		Validations:   r.Validations,
		Timeline:      r.Timeline,
	}
}

// FromInvalidation builds the report of an emergency invalidation from its result.
func FromInvalidation(id string, r contract.InvalidationResult) contract.Report {
	rep := contract.Report{
		WorkflowID:    id,
		Runbook:       RunbookInvalidation,
		Targets:       nonEmpty(r.Target),
		Outcome:       r.Outcome,
		Summary:       r.Summary,
		Actions:       Actions(r.Timeline),
		ConfigChanges: r.Changes,
		Validations:   r.Validations,
		Timeline:      r.Timeline,
	}
	if r.BreakGlass {
		rep.FollowUps = append(rep.FollowUps, "Review the break-glass use: the requester proceeded without a second approver.")
	}
	if len(r.ActiveControls) > 0 {
		rep.FollowUps = append(rep.FollowUps, "Lift the controls still active: "+strings.Join(r.ActiveControls, "; "))
	}
	return rep
}

// Actions lists what people did: the timeline's verified decisions that were not denied, and
// the events whose actor is a person rather than the run itself.
func Actions(timeline []contract.Event) []contract.ReportAction {
	var out []contract.ReportAction
	for _, e := range timeline {
		if e.Outcome == "denied" {
			continue
		}
		if !e.Verified && (e.Actor == "" || e.Actor == systemActor || e.Actor == "unknown") {
			continue
		}
		detail := e.Detail
		if e.Outcome != "" {
			detail = strings.TrimSuffix(e.Outcome+": "+detail, ": ")
		}
		out = append(out, contract.ReportAction{At: e.At, Actor: e.Actor, Action: e.Action, Detail: detail})
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
