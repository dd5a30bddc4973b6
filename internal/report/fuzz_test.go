package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"github.com/authops/authops/contract"
)

// FuzzMarkdown puts the same text in every field people write and checks that the document
// keeps its shape: no control or format character, no raw '<', and exactly as many lines as
// the same report with plain text, each opened by the template, never by the input.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"plain", "a\nb", "# h", "| x |", "<img src=x>", "`x`", "\u202e", "1. x", "- x", "a\u2028b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, _ := render(t, "x")
		out, lines := render(t, s)
		if strings.ContainsRune(out, '<') {
			t.Fatalf("raw '<' in output for %q", s)
		}
		for _, r := range out {
			if r != '\n' && (unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029') {
				t.Fatalf("control character %U in output for %q", r, s)
			}
		}
		if want := strings.Count(plain, "\n"); len(lines)-1 != want {
			t.Fatalf("input %q changed the line count from %d to %d:\n%s", s, want, len(lines)-1, out)
		}
		plainLines := strings.Split(plain, "\n")
		for i, l := range lines {
			if !templateLine(l) {
				t.Fatalf("input %q opened line %q", s, l)
			}
			if strings.HasPrefix(l, "| ") && cellBreaks(l) != cellBreaks(plainLines[i]) {
				t.Fatalf("input %q changed the cells of row %q", s, l)
			}
		}
	})
}

func render(t *testing.T, s string) (string, []string) {
	t.Helper()
	r := sampleReport()
	r.WorkflowID, r.Runbook, r.Outcome, r.Summary = s, s, s, s
	r.Targets = []string{s, s}
	r.FollowUps = []string{s}
	r.Actions = []contract.ReportAction{{At: t0, Actor: s, Action: s, Detail: s}}
	r.ConfigChanges = []contract.ConfigChange{{Item: s, FromVersion: s, FromFingerprint: s, ToVersion: s, ToFingerprint: s, Reason: s}}
	r.Validations = []contract.Validation{{Stage: s, Results: contract.ProbeResults{{Name: s, Method: s, Path: s, Detail: s}}}}
	r.Timeline = []contract.Event{{Actor: s, Action: s, Outcome: s, Detail: s, Verified: true, Via: s}}
	r.Archived = []contract.ArtifactRef{{Path: s, Digest: s}}
	r.Artifacts = []contract.ArtifactRef{{Path: s, Digest: s}}
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String(), strings.Split(b.String(), "\n")
}

// templateLine reports whether a line starts as the template starts its lines.
func templateLine(l string) bool {
	if l == "" {
		return true
	}
	for _, p := range []string{"# Report: ", "## ", "### Stage: ", "- **", "- ", "> ", "| ", "_", "Values are named"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
