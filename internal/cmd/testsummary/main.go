// Command testsummary reads the event stream of `go test -json` (cmd/test2json) on stdin and
// prints what `go test` prints without -v, then the wall time of each suite (issue 8):
//
//	go test -json -race -count=1 ./... | testsummary
//
// Per package it prints go test's "ok", "FAIL" or "?" line; for each failed test its whole
// output (passing tests, and passing subtests of a failed test, stay quiet); for a failed
// package its own output too (TestMain, a panic, a timeout's goroutine dump, and the output of
// every test that had no result when the binary died). Build output, and any line on stdin that
// is not an event, is passed through verbatim.
//
// At the end: a table with one row per package that has tests (top-level tests, failed,
// skipped, wall time), where the fault suite (TestFault* in an e2e package) has its own row and
// the package's row shows the rest; the 10 slowest top-level tests; and the sum of the package
// wall times.
//
// The exit status is 1 when a test or a package failed, a build failed, stdin held a line that
// is not an event, or the stream ended before a package's result; 0 otherwise.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The fault suite: top-level tests with this prefix in a package whose last element is
// faultPackage get their own row in the table.
const (
	faultPackage = "e2e"
	faultPrefix  = "TestFault"
	slowest      = 10
)

// event is one line of `go test -json` (https://pkg.go.dev/cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string
}

// Results of a test or a package. A test without a result when its package ends (the binary
// panicked, timed out or exited) counts as failed.
const (
	statusNone = ""
	statusPass = "pass"
	statusFail = "fail"
	statusSkip = "skip"
)

type test struct {
	name    string
	status  string
	elapsed float64 // seconds, from the result event
	// Intervals during which the test ran (a parallel test pauses), for the fault suite's wall
	// time; activeSince is zero while paused or done.
	activeSince time.Time
	intervals   []interval
	started     time.Time
	lastSeen    time.Time
}

type interval struct{ from, to time.Time }

type line struct {
	test string // "" for the package's own output
	text string
}

type pkg struct {
	name        string
	status      string
	elapsed     float64
	hasElapsed  bool
	failedBuild bool
	start, last time.Time
	tests       map[string]*test
	top         []*test // top-level tests in the order they started
	lines       []line  // output not yet printed or dropped, in stream order
}

type summary struct {
	w     io.Writer
	procs int // GOMAXPROCS here, go test's default -p, for the note under the table

	pkgs        map[string]*pkg
	order       []*pkg
	buildFailed []string
	nonEvents   int
	first, last time.Time
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout, runtime.GOMAXPROCS(0)))
}

// run summarizes the stream on r into w and returns the exit status.
func run(r io.Reader, w io.Writer, procs int) int {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	s := &summary{w: bw, procs: procs, pkgs: map[string]*pkg{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			s.line(b)
			// Failures show as they happen, not when the run ends.
			bw.Flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(bw, "testsummary: reading stdin: %v\n", err)
			s.nonEvents++
			break
		}
	}
	return s.finish()
}

func (s *summary) line(b []byte) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return
	}
	var e event
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &e) != nil || e.Action == "" {
		// Not an event: a build error from an older go, a panic in go test itself. Verbatim.
		s.nonEvents++
		s.write(string(b))
		if !bytes.HasSuffix(b, []byte("\n")) {
			s.write("\n")
		}
		return
	}
	s.event(e)
}

func (s *summary) write(text string) { io.WriteString(s.w, text) }

func (s *summary) event(e event) {
	switch e.Action {
	case "build-output":
		s.write(e.Output)
		return
	case "build-fail":
		s.buildFailed = append(s.buildFailed, e.ImportPath)
		return
	}
	if e.Package == "" {
		// No package to file it under: show its output rather than lose it.
		s.write(e.Output)
		return
	}
	if !e.Time.IsZero() {
		if s.first.IsZero() || e.Time.Before(s.first) {
			s.first = e.Time
		}
		if e.Time.After(s.last) {
			s.last = e.Time
		}
	}
	p := s.pkg(e.Package)
	if !e.Time.IsZero() {
		if p.start.IsZero() {
			p.start = e.Time
		}
		p.last = e.Time
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.lines = append(p.lines, line{text: e.Output})
		case statusPass, statusFail, statusSkip:
			p.status = e.Action
			p.elapsed, p.hasElapsed = e.Elapsed, true
			p.failedBuild = e.FailedBuild != ""
			s.flush(p)
		}
		return
	}
	t := p.test(e.Test)
	if !e.Time.IsZero() {
		t.lastSeen = e.Time
	}
	switch e.Action {
	case "run":
		t.started, t.activeSince = e.Time, e.Time
	case "cont":
		t.activeSince = e.Time
	case "pause":
		t.stop(e.Time)
	case "output":
		p.lines = append(p.lines, line{test: e.Test, text: e.Output})
	case statusPass, statusFail, statusSkip:
		t.status, t.elapsed = e.Action, e.Elapsed
		t.stop(e.Time)
		if !strings.Contains(e.Test, "/") {
			s.topDone(p, t)
		}
	}
}

func (t *test) stop(at time.Time) {
	if !t.activeSince.IsZero() && !at.IsZero() {
		t.intervals = append(t.intervals, interval{t.activeSince, at})
	}
	t.activeSince = time.Time{}
}

func (s *summary) pkg(name string) *pkg {
	p := s.pkgs[name]
	if p == nil {
		p = &pkg{name: name, tests: map[string]*test{}}
		s.pkgs[name] = p
		s.order = append(s.order, p)
	}
	return p
}

func (p *pkg) test(name string) *test {
	t := p.tests[name]
	if t == nil {
		t = &test{name: name}
		p.tests[name] = t
		if !strings.Contains(name, "/") {
			p.top = append(p.top, t)
		}
	}
	return t
}

func topLevel(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

// shown reports whether a test's output belongs in the printed run: it failed or never got a
// result.
func (p *pkg) shown(name string) bool {
	t := p.tests[name]
	return t == nil || t.status == statusFail || t.status == statusNone
}

// topDone prints a failed top-level test's output (its own and that of its failed subtests) and
// drops the output of the whole test either way: the e2e tests log a lot.
func (s *summary) topDone(p *pkg, t *test) {
	kept := p.lines[:0]
	for _, l := range p.lines {
		if l.test == "" || topLevel(l.test) != t.name {
			kept = append(kept, l)
			continue
		}
		if t.status == statusFail && p.shown(l.test) {
			s.write(l.text)
		}
	}
	clear(p.lines[len(kept):])
	p.lines = kept
}

// flush prints a package's result as go test does without -v.
func (s *summary) flush(p *pkg) {
	switch p.status {
	case statusPass:
		s.resultLine(p, "ok  \t"+p.name, fmt.Sprintf("ok  \t%s\t%.3fs\n", p.name, p.elapsed))
	case statusSkip:
		s.resultLine(p, "?   \t"+p.name, fmt.Sprintf("?   \t%s\t[no test files]\n", p.name))
	default: // fail, or no result at the end of the stream
		sawResult := false
		for _, l := range p.lines {
			if l.test == "" || p.shown(l.test) {
				s.write(l.text)
				sawResult = sawResult || strings.HasPrefix(l.text, "FAIL\t"+p.name)
			}
		}
		if !sawResult {
			if p.status == statusFail {
				fmt.Fprintf(s.w, "FAIL\t%s\t%.3fs\n", p.name, p.elapsed)
			} else {
				fmt.Fprintf(s.w, "FAIL\t%s\t(no result: the stream ended while it ran)\n", p.name)
			}
		}
	}
	p.lines = nil
}

func (s *summary) resultLine(p *pkg, prefix, fallback string) {
	for _, l := range p.lines {
		if l.test == "" && strings.HasPrefix(l.text, prefix) {
			s.write(l.text)
			return
		}
	}
	s.write(fallback)
}

// row is one suite in the table.
type row struct {
	name                   string
	tests, failed, skipped int
	wall                   float64
	result                 string
}

func (s *summary) finish() int {
	var unfinished []*pkg
	for _, p := range s.order {
		if p.status == statusNone {
			unfinished = append(unfinished, p)
			s.flush(p)
		}
	}
	if len(s.order) == 0 && len(s.buildFailed) == 0 && s.nonEvents == 0 {
		s.write("testsummary: no test events on stdin\n")
		return 1
	}

	var rows []row
	var sum float64
	noTests := 0
	var failedTests []string
	var failedPkgs []string
	type timed struct {
		pkg, name string
		secs      float64
		note      string
	}
	var all []timed
	for _, p := range s.order {
		if p.status == statusSkip && len(p.top) == 0 {
			noTests++
			continue
		}
		wall := p.elapsed
		if !p.hasElapsed {
			wall = p.last.Sub(p.start).Seconds()
		}
		sum += wall
		rest := row{name: p.name, wall: wall, result: p.result()}
		var fault row
		var faultIntervals []interval
		split := p.name == faultPackage || strings.HasSuffix(p.name, "/"+faultPackage)
		for _, t := range p.top {
			r := &rest
			if split && strings.HasPrefix(t.name, faultPrefix) {
				r = &fault
				faultIntervals = append(faultIntervals, t.intervals...)
				if !t.activeSince.IsZero() && !t.lastSeen.IsZero() {
					faultIntervals = append(faultIntervals, interval{t.activeSince, t.lastSeen})
				}
			}
			r.tests++
			secs, note := t.elapsed, ""
			switch t.status {
			case statusFail:
				r.failed++
				failedTests = append(failedTests, p.name+" "+t.name)
			case statusSkip:
				r.skipped++
			case statusNone:
				r.failed++
				failedTests = append(failedTests, p.name+" "+t.name+" (no result)")
				if !t.started.IsZero() {
					secs = t.lastSeen.Sub(t.started).Seconds()
				}
				note = " (no result)"
			}
			all = append(all, timed{p.name, t.name, secs, note})
		}
		if p.status != statusPass {
			failedPkgs = append(failedPkgs, p.name)
		}
		if split && fault.tests > 0 {
			fault.name = p.name + " [" + faultPrefix + "*]"
			fault.wall = union(faultIntervals)
			fault.result = "ok"
			if fault.failed > 0 {
				fault.result = "FAIL"
			}
			rest.name = p.name + " [rest]"
			rest.wall = max(0, wall-fault.wall)
			if rest.failed == 0 && fault.failed > 0 && p.status == statusFail {
				rest.result = "ok"
			}
			rows = append(rows, fault)
		}
		rows = append(rows, rest)
	}

	sort.SliceStable(rows, func(i, j int) bool { return rows[i].wall > rows[j].wall })
	width := len("suite")
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	fmt.Fprintf(s.w, "\nwall time per suite (a package's wall time is its test binary's run; ")
	fmt.Fprintf(s.w, "the %s suite's is the time its %s* tests ran, the [rest] row the remainder of the package)\n", faultPackage, faultPrefix)
	fmt.Fprintf(s.w, "%-*s  %5s  %6s  %7s  %8s  %s\n", width, "suite", "tests", "failed", "skipped", "wall (s)", "result")
	for _, r := range rows {
		fmt.Fprintf(s.w, "%-*s  %5d  %6d  %7d  %8.1f  %s\n", width, r.name, r.tests, r.failed, r.skipped, r.wall, r.result)
	}
	if noTests > 0 {
		fmt.Fprintf(s.w, "(%d packages without test files not shown)\n", noTests)
	}
	fmt.Fprintf(s.w, "sum of package wall times: %.1f s. Packages run in parallel (go test -p, by default GOMAXPROCS: %d here), so the sum can exceed the run's wall time", sum, s.procs)
	if !s.first.IsZero() {
		fmt.Fprintf(s.w, ": %.1f s from the first package's start to the last event, builds between included", s.last.Sub(s.first).Seconds())
	}
	s.write(".\n")

	sort.SliceStable(all, func(i, j int) bool { return all[i].secs > all[j].secs })
	if len(all) > 0 {
		fmt.Fprintf(s.w, "\nslowest %d top-level tests\n", min(slowest, len(all)))
		for _, t := range all[:min(slowest, len(all))] {
			fmt.Fprintf(s.w, "%8.1f s  %s %s%s\n", t.secs, t.pkg, t.name, t.note)
		}
	}

	failed := len(failedTests) > 0 || len(failedPkgs) > 0 || len(s.buildFailed) > 0 || s.nonEvents > 0 || len(unfinished) > 0
	if !failed {
		s.write("\nPASS\n")
		return 0
	}
	s.write("\nFAIL\n")
	for _, t := range failedTests {
		fmt.Fprintf(s.w, "  failed test: %s\n", t)
	}
	for _, name := range failedPkgs {
		fmt.Fprintf(s.w, "  failed package: %s (%s)\n", name, s.pkgs[name].result())
	}
	for _, b := range s.buildFailed {
		fmt.Fprintf(s.w, "  build failed: %s\n", b)
	}
	if s.nonEvents > 0 {
		fmt.Fprintf(s.w, "  %d lines on stdin were not go test -json events (shown verbatim above)\n", s.nonEvents)
	}
	return 1
}

func (p *pkg) result() string {
	switch {
	case p.status == statusPass:
		return "ok"
	case p.failedBuild:
		return "build failed"
	case p.status == statusFail:
		return "FAIL"
	case p.status == statusSkip:
		return "no test files"
	default:
		return "no result"
	}
}

// union is the length in seconds of the union of the intervals.
func union(in []interval) float64 {
	sort.Slice(in, func(i, j int) bool { return in[i].from.Before(in[j].from) })
	var total time.Duration
	var cur interval
	for i, iv := range in {
		if i == 0 || iv.from.After(cur.to) {
			total += cur.to.Sub(cur.from)
			cur = iv
			continue
		}
		if iv.to.After(cur.to) {
			cur.to = iv.to
		}
	}
	total += cur.to.Sub(cur.from)
	return total.Seconds()
}
