package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// testdata/run.json is `go test -json -count=1 ./internal/envfile ./contract` from this repository,
// merged by timestamp (so packages interleave, as under go test -p) with `go test -json` of
// throwaway packages under the same module path, recorded with go1.26.8:
//   - e2e: TestMain output; TestDecisionRoundTrip passes and logs "decision N: approved by bob";
//     TestAlertmanagerNotifies skips; the fault suite: TestFaultServerKilledMidRedeploy (0.6 s)
//     and TestFaultCancelRotationAwaitingApproval pass, TestFaultTargetDeployFails fails in its
//     subtest "rollback" while its subtest "retries" passes and logs "attempt N failed";
//   - internal/broken: a test file that does not compile;
//   - internal/crash: TestNilMap panics;
//   - internal/stuck: TestWaitsForever outlives -timeout 2s (no result event for it).
const recorded = "testdata/run.json"

func summarize(t *testing.T, stream []byte) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(bytes.NewReader(stream), &out, 2)
	return out.String(), code
}

func readRecorded(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type tableRow struct {
	tests, failed, skipped int
	wall                   string
	result                 string
}

var rowRE = regexp.MustCompile(`^(\S+(?: \[[^\]]+\])?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d)\s+(\S.*)$`)

// table parses the rows of the "wall time per suite" table.
func table(t *testing.T, out string) map[string]tableRow {
	t.Helper()
	_, after, ok := strings.Cut(out, "\nwall time per suite")
	if !ok {
		t.Fatalf("no wall time table in:\n%s", out)
	}
	lines := strings.Split(after, "\n")
	if !strings.HasPrefix(lines[1], "suite ") {
		t.Fatalf("table header = %q", lines[1])
	}
	rows := map[string]tableRow{}
	for _, l := range lines[2:] {
		m := rowRE.FindStringSubmatch(l)
		if m == nil {
			break
		}
		n := func(s string) int { i, _ := strconv.Atoi(s); return i }
		rows[m[1]] = tableRow{n(m[2]), n(m[3]), n(m[4]), m[5], m[6]}
	}
	return rows
}

func TestRecordedRunPrintsFailuresLikeGoTest(t *testing.T) {
	out, code := summarize(t, readRecorded(t))
	if code != 1 {
		t.Errorf("exit status = %d, want 1", code)
	}
	before, _, _ := strings.Cut(out, "\nwall time per suite")

	// Every package's line, as go test prints it.
	for _, want := range []string{
		"ok  \tgithub.com/authops/authops/internal/envfile\t0.827s\n",
		"ok  \tgithub.com/authops/authops/contract\t0.148s\n",
		"FAIL\tgithub.com/authops/authops/e2e\t1.731s\n",
		"FAIL\tgithub.com/authops/authops/internal/crash\t0.032s\n",
		"FAIL\tgithub.com/authops/authops/internal/stuck\t2.032s\n",
	} {
		if !strings.Contains(before, want) {
			t.Errorf("missing package line %q", want)
		}
	}

	// A failed test's whole output, in one piece although e2e ran alongside envfile; its passing
	// subtest stays quiet.
	failedBlock := "=== RUN   TestFaultTargetDeployFails\n" +
		"    e2e_test.go:34: deploy step returns exit 1 on every attempt\n" +
		"=== RUN   TestFaultTargetDeployFails/rollback\n" +
		"    e2e_test.go:42: after the failed deploy: env file holds \"new-7f3a\", want the previous secret \"old-19c2\"\n" +
		"--- FAIL: TestFaultTargetDeployFails/rollback (0.15s)\n" +
		"--- FAIL: TestFaultTargetDeployFails (0.35s)\n"
	if !strings.Contains(before, failedBlock) {
		t.Errorf("the failed test's output is not printed in one piece; want\n%s\nin\n%s", failedBlock, before)
	}
	// The failed package's own output (TestMain).
	if !strings.Contains(before, "e2e: Temporal dev server on 127.0.0.1:7233 (namespace default)\n") {
		t.Error("the failed e2e package's TestMain output is missing")
	}

	// Build failure, verbatim, then go test's line for the package.
	buildBlock := "# github.com/authops/authops/internal/broken [github.com/authops/authops/internal/broken.test]\n" +
		"internal/broken/broken_test.go:6:16: undefined: missingWant\n" +
		"FAIL\tgithub.com/authops/authops/internal/broken [build failed]\n"
	if !strings.Contains(before, buildBlock) {
		t.Errorf("build failure not passed through; want\n%s", buildBlock)
	}

	// A panicking test and a test killed by -timeout: their output, stack included.
	for _, want := range []string{
		"    crash_test.go:9: writing to a nil map\n--- FAIL: TestNilMap (0.00s)\npanic: assignment to entry in nil map",
		"github.com/authops/authops/internal/crash.TestNilMap(",
		"=== RUN   TestWaitsForever\n    stuck_test.go:11: waiting for the approval signal\npanic: test timed out after 2s\n",
		"github.com/authops/authops/internal/stuck.TestWaitsForever(",
	} {
		if !strings.Contains(before, want) {
			t.Errorf("missing crash output %q", want)
		}
	}

	// Passing tests, passing subtests and skipped tests print nothing.
	for _, quiet := range []string{
		"approved by bob",
		"attempt 1 failed",
		"=== RUN   TestFaultServerKilledMidRedeploy",
		"prometheus-alertmanager not on PATH",
		"quick noise",
		"TestSet_Appends",
		"--- PASS",
		"=== RUN   TestFine",
	} {
		if strings.Contains(before, quiet) {
			t.Errorf("output of a test that did not fail is printed: %q", quiet)
		}
	}

	// The closing list names every failure.
	for _, want := range []string{
		"failed test: github.com/authops/authops/e2e TestFaultTargetDeployFails\n",
		"failed test: github.com/authops/authops/internal/crash TestNilMap\n",
		"failed test: github.com/authops/authops/internal/stuck TestWaitsForever (no result)\n",
		"build failed: github.com/authops/authops/internal/broken [github.com/authops/authops/internal/broken.test]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("closing list lacks %q", want)
		}
	}
}

func TestRecordedRunWallTimeTable(t *testing.T) {
	out, _ := summarize(t, readRecorded(t))
	got := table(t, out)
	want := map[string]tableRow{
		// 3 fault tests ran 0.60 + 0.35 + 0.25 s one after the other.
		"github.com/authops/authops/e2e [TestFault*]": {3, 1, 0, "1.2", "FAIL"},
		// The package's 1.733 s less the fault suite: TestMain's 0.3 s and two tests, one skipped.
		"github.com/authops/authops/e2e [rest]":       {2, 0, 1, "0.5", "ok"},
		"github.com/authops/authops/internal/envfile": {21, 0, 0, "0.8", "ok"},
		"github.com/authops/authops/contract":         {5, 0, 0, "0.1", "ok"},
		"github.com/authops/authops/internal/crash":   {2, 1, 0, "0.0", "FAIL"},
		"github.com/authops/authops/internal/stuck":   {2, 1, 0, "2.0", "FAIL"},
		"github.com/authops/authops/internal/broken":  {0, 0, 0, "0.0", "build failed"},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("no row %q in the table:\n%s", name, out)
		} else if g != w {
			t.Errorf("row %q = %+v, want %+v", name, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("table has %d rows, want %d:\n%s", len(got), len(want), out)
	}
	if _, ok := got["github.com/authops/authops/e2e"]; ok {
		t.Error("e2e has a whole-package row besides its two rows")
	}

	// Rows slowest first.
	_, tbl, _ := strings.Cut(out, "\nwall time per suite")
	if i, j := strings.Index(tbl, "internal/stuck "), strings.Index(tbl, "contract "); i < 0 || j < 0 || i > j {
		t.Errorf("rows are not sorted by wall time:\n%s", tbl)
	}

	for _, want := range []string{
		"sum of package wall times: 4.8 s. Packages run in parallel (go test -p, by default GOMAXPROCS: 2 here), so the sum can exceed the run's wall time: 4.5 s from the first package's start to the last event",
		"\nslowest 10 top-level tests\n" +
			"     2.0 s  github.com/authops/authops/internal/stuck TestWaitsForever (no result)\n" +
			"     0.6 s  github.com/authops/authops/e2e TestFaultServerKilledMidRedeploy\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, slow, _ := strings.Cut(out, "\nslowest 10 top-level tests\n")
	slow, _, _ = strings.Cut(slow, "\n\n")
	if n := strings.Count(slow, "\n") + 1; n != 10 {
		t.Errorf("%d slowest tests listed, want 10:\n%s", n, slow)
	}
	if strings.Contains(slow, "TestFaultTargetDeployFails/") {
		t.Errorf("a subtest is listed among the slowest top-level tests:\n%s", slow)
	}
}

// onlyPackages keeps the events of the given packages.
func onlyPackages(stream []byte, pkgs ...string) []byte {
	var b bytes.Buffer
	for _, l := range strings.SplitAfter(string(stream), "\n") {
		for _, p := range pkgs {
			if strings.Contains(l, `"Package":"`+p+`"`) {
				b.WriteString(l)
			}
		}
	}
	return b.Bytes()
}

func TestPassingRunExitsZero(t *testing.T) {
	stream := onlyPackages(readRecorded(t), "github.com/authops/authops/internal/envfile", "github.com/authops/authops/contract")
	out, code := summarize(t, stream)
	if code != 0 {
		t.Errorf("exit status = %d, want 0:\n%s", code, out)
	}
	before, _, _ := strings.Cut(out, "\nwall time per suite")
	want := "ok  \tgithub.com/authops/authops/internal/envfile\t0.827s\n" +
		"ok  \tgithub.com/authops/authops/contract\t0.148s\n"
	if before != want {
		t.Errorf("before the table:\n%s\nwant only the ok lines:\n%s", before, want)
	}
	if !strings.HasSuffix(out, "\nPASS\n") || strings.Contains(out, "FAIL") {
		t.Errorf("a passing run does not end in PASS:\n%s", out)
	}
}

func TestEachFailureAloneFailsTheRun(t *testing.T) {
	rec := readRecorded(t)
	for name, stream := range map[string][]byte{
		"failed test":       onlyPackages(rec, "github.com/authops/authops/e2e"),
		"panic":             onlyPackages(rec, "github.com/authops/authops/internal/crash"),
		"timeout":           onlyPackages(rec, "github.com/authops/authops/internal/stuck"),
		"build failure":     []byte(`{"ImportPath":"x [x.test]","Action":"build-output","Output":"x_test.go:1: bad\n"}` + "\n" + `{"ImportPath":"x [x.test]","Action":"build-fail"}` + "\n"),
		"not an event":      append(onlyPackages(rec, "github.com/authops/authops/contract"), "# github.com/x\nx.go:3: syntax error\n"...),
		"stream cut short":  bytes.Join(bytes.SplitAfter(onlyPackages(rec, "github.com/authops/authops/contract"), []byte("\n"))[:40], nil),
		"empty stream":      nil,
		"package fail only": []byte(`{"Action":"start","Package":"p"}` + "\n" + `{"Action":"output","Package":"p","Output":"TestMain: no dev server\n"}` + "\n" + `{"Action":"fail","Package":"p","Elapsed":0.1}` + "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			out, code := summarize(t, stream)
			if code != 1 {
				t.Errorf("exit status = %d, want 1:\n%s", code, out)
			}
		})
	}
}

func TestNonEventLinesAndCutStreamsAreShown(t *testing.T) {
	contract := onlyPackages(readRecorded(t), "github.com/authops/authops/contract")
	out, _ := summarize(t, append(contract, "# github.com/x\nx.go:3: syntax error\n"...))
	if !strings.Contains(out, "# github.com/x\nx.go:3: syntax error\n") {
		t.Errorf("non-event lines not passed through:\n%s", out)
	}

	// The stream ends while a test runs: its output so far is printed.
	lines := bytes.SplitAfter(contract, []byte("\n"))
	var cut []byte
	for _, l := range lines {
		cut = append(cut, l...)
		if bytes.Contains(l, []byte(`"Output":"=== RUN   TestCleanText`)) {
			break
		}
	}
	out, code := summarize(t, cut)
	if code != 1 || !strings.Contains(out, "=== RUN   TestCleanText") ||
		!strings.Contains(out, "FAIL\tgithub.com/authops/authops/contract\t(no result: the stream ended while it ran)\n") {
		t.Errorf("cut stream: exit %d, output:\n%s", code, out)
	}
}

func TestFaultSuiteWallTimeIsTheTimeItRan(t *testing.T) {
	// Two parallel fault tests overlap (run, pause, cont); the suite's wall time is the union of
	// the times they ran, 3 s, not the sum of their elapsed times (5 s) nor the span from the
	// first run to the last result (the pause is excluded).
	stream := `{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m/e2e"}
{"Time":"2026-01-01T00:00:01Z","Action":"run","Package":"m/e2e","Test":"TestFaultA"}
{"Time":"2026-01-01T00:00:01Z","Action":"pause","Package":"m/e2e","Test":"TestFaultA"}
{"Time":"2026-01-01T00:00:01Z","Action":"run","Package":"m/e2e","Test":"TestFaultB"}
{"Time":"2026-01-01T00:00:01Z","Action":"pause","Package":"m/e2e","Test":"TestFaultB"}
{"Time":"2026-01-01T00:00:01Z","Action":"run","Package":"m/e2e","Test":"TestOther"}
{"Time":"2026-01-01T00:00:05Z","Action":"pass","Package":"m/e2e","Test":"TestOther","Elapsed":4}
{"Time":"2026-01-01T00:00:05Z","Action":"cont","Package":"m/e2e","Test":"TestFaultA"}
{"Time":"2026-01-01T00:00:05Z","Action":"cont","Package":"m/e2e","Test":"TestFaultB"}
{"Time":"2026-01-01T00:00:07Z","Action":"pass","Package":"m/e2e","Test":"TestFaultB","Elapsed":2}
{"Time":"2026-01-01T00:00:08Z","Action":"pass","Package":"m/e2e","Test":"TestFaultA","Elapsed":3}
{"Time":"2026-01-01T00:00:10Z","Action":"output","Package":"m/e2e","Output":"ok  \tm/e2e\t10.000s\n"}
{"Time":"2026-01-01T00:00:10Z","Action":"pass","Package":"m/e2e","Elapsed":10}
`
	out, code := summarize(t, []byte(stream))
	if code != 0 {
		t.Errorf("exit status = %d, want 0:\n%s", code, out)
	}
	got := table(t, out)
	if g, w := got["m/e2e [TestFault*]"], (tableRow{2, 0, 0, "3.0", "ok"}); g != w {
		t.Errorf("fault row = %+v, want %+v:\n%s", g, w, out)
	}
	if g, w := got["m/e2e [rest]"], (tableRow{1, 0, 0, "7.0", "ok"}); g != w {
		t.Errorf("rest row = %+v, want %+v:\n%s", g, w, out)
	}
}
