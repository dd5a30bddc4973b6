package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

// FuzzWriteTimeline renders one to four timeline rows built from fuzzed text (actor, action,
// outcome, detail, client) in the three formats of `starter timeline`:
//
//   - text: no control or format rune but the renderer's own line ends (tabwriter pads with
//     spaces, so not even a tab); exactly one line per event after the header; every field
//     starts in its column, as a tabwriter with the same settings would place it.
//   - md: no control or format rune but line ends, no '<' or '>' at all, every '&' starts an
//     entity the renderer wrote; one line per event after the two header lines; every line
//     has the header's seven unescaped '|' (a '|' is escaped when a backslash precedes it, as
//     GFM's table scanner reads it); each cell reads back as the cleaned field.
//   - json: valid JSON that decodes to exactly the cleaned rows.
//
// Timeline rows reach the renderer decoded from JSON (the workflow's query answer) and
// protobuf (the client identity), so their strings are valid UTF-8: invalid bytes in the fuzz
// input are replaced the way encoding/json replaces them.
func FuzzWriteTimeline(f *testing.F) {
	for _, s := range [][5]string{
		{"alice", "approve", "accepted", "looks good", "authops-cli@laptop"},
		{"", "", "", "", ""},
		{"bob", "reject", "denied", "ok\n12:00 mallory approve accepted", ""},
		{"\x1b[31mroot\x1b[0m", "approve\r", "accepted\t", "tab\there", "cli\x00"},
		{"carol", "comment", "ok", "a | b || c \\| d \\\\| e \\", "x|y"},
		{"<script>alert(1)</script>", "&lt;b&gt;", "&amp;", "<img src=x onerror=alert(1)>", "&#124;"},
		{"abc\u202edcba", "zero\u200bwidth", "\ufeffbom", "soft\u00adhyphen\u2028line sep", "NEL\u0085"},
		{"東京", "café", "Zoë", "emoji 🔐 wide ｗｉｄｅ", "combining e\u0301"},
		{"invalid \xff\xfe", "\xc3", "ok", "\xff\t\xff", "\xff"},
		{"dave", "rollback", "accepted", "- [ ] not a task | `code | span` **bold**", "[link](javascript:alert(1))"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], int64(1764365400), uint8(3), true)
	}
	f.Fuzz(func(t *testing.T, actor, action, outcome, detail, client string, at int64, n uint8, verified bool) {
		fields := []string{actor, action, outcome, detail, client}
		for i, s := range fields {
			fields[i] = string([]rune(s)) // each invalid byte becomes U+FFFD, as encoding/json does
		}
		// Times from 1970 to 9999: workflow.Now, always a representable UTC time.
		base := time.Unix(at&(1<<37-1)%253402300000, 0).UTC()
		rows := make([]runs.TimelineRow, int(n%4)+1)
		for j := range rows {
			// Row j takes the fields rotated by j, so columns mix long, short and empty cells.
			g := func(k int) string { return fields[(k+j)%len(fields)] }
			rows[j] = runs.TimelineRow{
				Event: contract.Event{At: base.Add(time.Duration(j) * time.Minute), Actor: g(0), Action: g(1),
					Outcome: g(2), Detail: g(3), Verified: verified, Via: g(4), UpdateID: g(1)},
				Client: g(4),
			}
		}
		clean := make([]runs.TimelineRow, len(rows))
		for i, r := range rows {
			clean[i] = cleanRow(r)
		}
		render := func(format string) string {
			var b bytes.Buffer
			if err := writeTimeline(&b, format, rows); err != nil {
				t.Fatalf("writeTimeline %s: %v", format, err)
			}
			return b.String()
		}
		checkTimelineText(t, render("text"), clean)
		checkTimelineMarkdown(t, render("md"), clean)
		checkTimelineJSON(t, render("json"), clean)
	})
}

// noControl fails on any Cc or Cf rune in out other than '\n'.
func noControl(t *testing.T, format, out string) {
	t.Helper()
	for i, r := range out {
		if r != '\n' && unicode.In(r, unicode.Cc, unicode.Cf) {
			t.Fatalf("%s output holds %U at byte %d:\n%q", format, r, i, out)
		}
	}
}

// outputLines splits out into lines; out must end with a line end.
func outputLines(t *testing.T, format, out string, want int) []string {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("%s output does not end with a line end:\n%q", format, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != want {
		t.Fatalf("%s output has %d lines, want %d:\n%s", format, len(lines), want, out)
	}
	return lines
}

func checkTimelineText(t *testing.T, out string, rows []runs.TimelineRow) {
	t.Helper()
	noControl(t, "text", out)
	lines := outputLines(t, "text", out, len(rows)+1)

	// The layout of text/tabwriter with minwidth 0, padding 2 and padchar ' ': each column as
	// wide as its widest cell (in runes) plus 2; the last cell of a line is not padded.
	table := [][]string{{"TIME (UTC)", "ACTOR", "ACTION", "OUTCOME", "CLIENT", "DETAIL"}}
	for _, r := range rows {
		table = append(table, []string{r.At.UTC().Format(time.RFC3339), r.Actor, r.Action, r.Outcome,
			orDefault(r.Client, "-"), r.Detail})
	}
	widths := make([]int, len(table[0])-1)
	for _, cells := range table {
		for c := range widths {
			widths[c] = max(widths[c], utf8.RuneCountInString(cells[c])+2)
		}
	}
	for i, cells := range table {
		var want strings.Builder
		for c, cell := range cells {
			want.WriteString(cell)
			if c < len(widths) {
				want.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell)))
			}
		}
		if lines[i] != want.String() {
			t.Fatalf("text line %d is not in columns:\n got %q\nwant %q\nwhole output:\n%s", i, lines[i], want.String(), out)
		}
	}
}

// mdUnescape reads a cell back: GFM drops the backslash of an escaped pipe, HTML the entities.
var mdUnescape = strings.NewReplacer(`\|`, "|", "&amp;", "&", "&lt;", "<", "&gt;", ">")

func checkTimelineMarkdown(t *testing.T, out string, rows []runs.TimelineRow) {
	t.Helper()
	noControl(t, "md", out)
	if strings.ContainsAny(out, "<>") {
		t.Fatalf("md output holds a raw < or >:\n%s", out)
	}
	for i := range len(out) {
		if rest := out[i:]; out[i] == '&' && !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
			t.Fatalf("md output holds a raw & at byte %d:\n%s", i, out)
		}
	}
	lines := outputLines(t, "md", out, len(rows)+2)
	for i, line := range lines {
		cells := splitMarkdownRow(line)
		if len(cells) != 8 || cells[0] != "" || cells[7] != "" {
			t.Fatalf("md line %d has %d unescaped | (want 7, at both ends):\n%s\nwhole output:\n%s", i, len(cells)-1, line, out)
		}
		if i < 2 {
			continue
		}
		r := rows[i-2]
		for c, want := range []string{r.At.UTC().Format(time.RFC3339), r.Actor, r.Action, r.Outcome, r.Detail, r.Client} {
			cell := cells[c+1]
			if !strings.HasPrefix(cell, " ") || !strings.HasSuffix(cell, " ") {
				t.Fatalf("md line %d cell %d is not padded: %q", i, c, cell)
			}
			if got := mdUnescape.Replace(cell[1 : len(cell)-1]); got != want {
				t.Fatalf("md line %d cell %d reads back as %q, want %q:\n%s", i, c, got, want, line)
			}
		}
	}
}

// splitMarkdownRow splits a table row at every '|' that no backslash precedes: cmark-gfm's
// cell scanner takes a backslash before a '|' as escaping it, whatever comes before.
func splitMarkdownRow(line string) []string {
	var cells []string
	start := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			cells = append(cells, line[start:i])
			start = i + 1
		}
	}
	return append(cells, line[start:])
}

func checkTimelineJSON(t *testing.T, out string, rows []runs.TimelineRow) {
	t.Helper()
	noControl(t, "json", out)
	if !json.Valid([]byte(out)) {
		t.Fatalf("json output is not valid JSON:\n%s", out)
	}
	var got []runs.TimelineRow
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json output does not decode: %v\n%s", err, out)
	}
	if len(got) != len(rows) {
		t.Fatalf("json output has %d rows, want %d:\n%s", len(got), len(rows), out)
	}
	for i := range rows {
		g, w := got[i], rows[i]
		if !g.At.Equal(w.At) {
			t.Fatalf("json row %d: at %s, want %s", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Fatalf("json row %d does not round-trip:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
