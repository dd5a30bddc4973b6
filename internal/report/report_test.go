package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authops/authops/contract"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleReport() contract.Report {
	return contract.Report{
		WorkflowID: "incident-abc123",
		Runbook:    RunbookIncident,
		Targets:    []string{"demo", "other"},
		Outcome:    contract.OutcomeResolved,
		Summary:    "credential stuffing from one range, contained",
		FollowUps:  []string{"add rate limits on /auth/token"},
		Actions: []contract.ReportAction{
			{At: t0, Actor: "alice", Action: "owner", Detail: "accepted"},
			{At: t0.Add(time.Minute), Actor: "bob", Action: "contain", Detail: "deny-cidr 203.0.113.0/24"},
		},
		ConfigChanges: []contract.ConfigChange{{At: t0, Item: "JWT_SECRET", FromVersion: "v1", FromFingerprint: "fp-old",
			ToVersion: "v2", ToFingerprint: "fp-new", Reason: "rotation"}},
		Validations: []contract.Validation{{Stage: "post-rotation", OK: true, Results: contract.ProbeResults{
			{Name: "healthz", Method: "GET", Path: "/healthz", Expected: 200, Got: 200, OK: true, At: t0, ElapsedMS: 3},
		}}},
		Timeline: []contract.Event{
			{At: t0, Actor: "alice", Action: "start:auth-incident", Outcome: "accepted", Verified: true, Via: "update"},
			{At: t0.Add(time.Second), Actor: "authops", Action: contract.StepFreeze, Outcome: "done"},
		},
		Archived:  []contract.ArtifactRef{{Path: "artifacts/incident-abc123/timeline-1.json", Digest: "deadbeef", Events: 500}},
		Artifacts: []contract.ArtifactRef{{Path: "artifacts/incident-abc123/snapshot-demo.json", Digest: "cafef00d"}},
	}
}

func TestMarkdownHasEverySection(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# Report: incident-abc123", "**Runbook:** auth-incident", "**Targets:** demo, other", "**Outcome:** resolved",
		"## Summary", "> credential stuffing from one range, contained",
		"## Follow-ups", "- add rate limits on /auth/token",
		"## Who did what", "| 2025-03-01T12:01:00Z | bob | contain | deny-cidr 203.0.113.0/24 |",
		"## Config changes", "| JWT\\_SECRET | v1 | fp-old | v2 | fp-new | rotation |",
		"## Validation outputs", "### Stage: post-rotation (passed)", "| healthz | GET /healthz | 200 | 200 | passed |",
		"## Timeline (UTC)", "| 2025-03-01T12:00:00Z | alice | start:auth-incident | accepted |  | yes, update |",
		"## Archived timeline parts", "timeline-1.json | deadbeef | 500 |",
		"## Artifacts", "snapshot-demo.json | cafef00d |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownEmptySections(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, contract.Report{WorkflowID: "rotation-demo", Runbook: RunbookRotation}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"_No summary._", "_None._", "_No actions by people recorded._", "_No config changes._",
		"_No validations ran._", "_The timeline is empty._"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "## Artifacts") {
		t.Errorf("a report without artifacts has an Artifacts section:\n%s", b.String())
	}
}

// A measure kept past the incident is named with its owner, its approver and when it is due to be
// lifted; a report that kept nothing has no such section.
func TestMarkdownKeptMeasures(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "## Kept past the incident") {
		t.Errorf("a report that kept nothing has a Kept section:\n%s", b.String())
	}
	r.Kept = []contract.KeptMeasure{{ActionID: "a2", Item: "deny-cidr 203.0.113.0/24 on demo", Target: "demo", Owner: "bob",
		ApprovedBy: "carol|<b>", Until: t0.Add(24 * time.Hour)}}
	b.Reset()
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "| a2 | deny-cidr 203.0.113.0/24 on demo | bob | carol\\|&lt;b&gt; | 2025-03-02T12:00:00Z |"
	if !strings.Contains(b.String(), "## Kept past the incident") || !strings.Contains(b.String(), want) {
		t.Errorf("report lacks the kept measure %q:\n%s", want, b.String())
	}
}

func TestMarkdownEscapesPeoplesText(t *testing.T) {
	r := sampleReport()
	evil := "ok |x| <script>alert(1)</script>\n# forged heading\r\n| forged | row | `code` *b* _i_ [l](http://x) &amp;\u202e\u2028"
	r.Summary = evil
	r.FollowUps = []string{"# heading", "- item", "1. one", evil}
	r.Actions[0].Detail = evil
	r.Timeline[0].Detail = evil
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "\n# forged", "\n| forged", "\u202e", "\u2028", "\r", "`code`", "*b*", "[l]"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"- \\# heading", "- \\- item", "- 1\\. one", "&lt;script&gt;", `\|x\|`, `&amp;amp;`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every table row with the text in it still has exactly its cells.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "forged") && strings.HasPrefix(line, "| ") {
			if n := cellBreaks(line); n != 5 && n != 7 {
				t.Errorf("row has %d cell breaks: %q", n, line)
			}
		}
	}
}

func TestJSONIsIndentedReport(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  \"workflow_id\": \"incident-abc123\"") {
		t.Errorf("not indented JSON:\n%s", b.String())
	}
	var back contract.Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.WorkflowID != "incident-abc123" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestFromRotation(t *testing.T) {
	res := contract.RotationResult{
		Target: "demo", Outcome: contract.OutcomeRolledBack, Summary: "validation failed; rolled back",
		Changes:     []contract.ConfigChange{{Item: "JWT_SECRET", FromVersion: "v1", ToVersion: "v2"}},
		Validations: []contract.Validation{{Stage: "post-deploy", OK: false}},
		Timeline: []contract.Event{
			{At: t0, Actor: "alice", Action: "start", Outcome: "accepted", Verified: true},
			{At: t0, Actor: "mallory", Action: "approve", Outcome: "denied", Detail: "bad signature"},
			{At: t0, Actor: "bob", Action: "approve", Outcome: "accepted", Verified: true, Detail: "lgtm"},
			{At: t0, Actor: "authops", Action: "deploy", Outcome: "failed"},
		},
	}
	r := FromRotation("rotation-demo", res)
	if r.WorkflowID != "rotation-demo" || r.Runbook != RunbookRotation || r.Outcome != contract.OutcomeRolledBack ||
		r.Summary != res.Summary || len(r.ConfigChanges) != 1 || len(r.Validations) != 1 || len(r.Timeline) != 4 ||
		len(r.Targets) != 1 || r.Targets[0] != "demo" {
		t.Fatalf("report: %+v", r)
	}
	if len(r.Actions) != 2 || r.Actions[0].Actor != "alice" || r.Actions[1].Actor != "bob" || r.Actions[1].Detail != "accepted: lgtm" {
		t.Fatalf("actions: %+v", r.Actions)
	}
}

func TestFromInvalidation(t *testing.T) {
	res := contract.InvalidationResult{
		Target: "demo", Outcome: contract.OutcomeCompleted, Summary: "all tokens cut off", BreakGlass: true,
		ActiveControls: []string{"/admin restricted until 13:00Z"},
		Timeline:       []contract.Event{{At: t0, Actor: "alice", Action: "start", Outcome: "accepted", Verified: true}},
	}
	r := FromInvalidation("invalidate-demo", res)
	if r.Runbook != RunbookInvalidation || r.Summary != res.Summary || len(r.Actions) != 1 || len(r.FollowUps) != 2 {
		t.Fatalf("report: %+v", r)
	}
}

// cellBreaks counts the unescaped '|' of a table row.
func cellBreaks(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}
