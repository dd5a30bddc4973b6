package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authops/authops/contract"
)

// reportEnv makes the fault tests write their results table to docs/reliability.md (`make
// test-faults` sets it). Nobody edits that table by hand.
const reportEnv = "AUTHOPS_RELIABILITY_REPORT"

// faultRow is one line of the reliability table: the fault injected, how the run ended, and what
// the test checked afterwards.
type faultRow struct {
	Test, Fault, Outcome string
	Checked              []string
	Passed               bool
}

var faultRows struct {
	sync.Mutex
	rows []faultRow
}

// reportFault records a fault case for the table. Call it once a case's checks are written; the
// row says "passed" only if the test did not fail.
func reportFault(t *testing.T, fault, outcome string, checked ...string) {
	t.Helper()
	row := faultRow{Test: t.Name(), Fault: fault, Outcome: outcome, Checked: checked}
	t.Cleanup(func() {
		row.Passed = !t.Failed()
		faultRows.Lock()
		defer faultRows.Unlock()
		faultRows.rows = append(faultRows.rows, row)
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(reportEnv) == "1" {
		if err := writeReliability(filepath.Join("..", "docs", "reliability.md")); err != nil {
			fmt.Fprintln(os.Stderr, "write docs/reliability.md:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// writeReliability writes the table of every fault case this run reported, sorted by test name.
func writeReliability(path string) error {
	faultRows.Lock()
	rows := slices.Clone(faultRows.rows)
	faultRows.Unlock()
	if len(rows) == 0 {
		return fmt.Errorf("no fault case reported: run the fault tests (make test-faults)")
	}
	slices.SortFunc(rows, func(a, b faultRow) int { return strings.Compare(a.Test, b.Test) })
	var b strings.Builder
	fmt.Fprintf(&b, "# Reliability: faults injected and what held\n\n")
	fmt.Fprintf(&b, "This page lists each fault the fault suite injects into a run, and what held afterwards. Each row\n")
	fmt.Fprintf(&b, "is one end-to-end test on the real dev server, demo backend and worker processes. Written by\n")
	fmt.Fprintf(&b, "`make test-faults` on %s (UTC); do not edit by hand.\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "| fault | outcome | checked afterwards | result | test |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		result := "passed"
		if !r.Passed {
			result = "**FAILED**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | `%s` |\n", cell(r.Fault), cell(r.Outcome), cell(strings.Join(r.Checked, "; ")), result, cell(r.Test))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(contract.CleanText(s))
}
