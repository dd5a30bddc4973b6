// Package deploy applies a new configuration to a target: it runs a deploy command or calls a
// deploy webhook, and waits for the target to come back healthy. Secrets never reach Output or
// errors, because both end up in workflow history and Slack.
package deploy

import (
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Report is what a deploy did; Output is redacted and truncated (last 4 KiB).
type Report struct {
	Output   string        `json:"output"`
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration"`
}

const (
	redactedMarker = "[REDACTED]"
	// outputLimit bounds Report.Output: the end of a deploy log says why it failed, and the
	// report travels through workflow history, where size matters.
	outputLimit = 4 << 10
	// captureLimit is how much raw output is kept before redaction. It is far larger than
	// outputLimit so that a secret cut in half by the capture window lies well before the part
	// that is finally kept.
	captureLimit = 64 << 10
)

// Redact replaces each non-empty secret in s with "[REDACTED]".
func Redact(s string, secrets ...string) string {
	return render(s, matches(s, secrets), 0)
}

type span struct{ start, end int }

// matches returns sorted, merged spans covering every occurrence of every secret, overlapping
// ones included. Replacing secrets one after another with strings.ReplaceAll would leave a
// fragment of a secret that overlaps an earlier one; a union of spans leaves nothing.
func matches(s string, secrets []string) []span {
	var spans []span
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], sec)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(sec)})
			i += j + 1
		}
	}
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// render returns s[from:] with every span replaced by the marker; spans must start at or after from.
func render(s string, spans []span, from int) string {
	var b strings.Builder
	b.Grow(len(s) - from)
	pos := from
	for _, sp := range spans {
		b.WriteString(s[pos:sp.start])
		b.WriteString(redactedMarker)
		pos = sp.end
	}
	b.WriteString(s[pos:])
	return b.String()
}

// safeOutput redacts captured output and keeps its last outputLimit bytes. When the capture
// dropped its beginning, the first bytes may hold the tail of a secret that no full match finds,
// so as many bytes as the longest secret are dropped from the front as well.
func safeOutput(raw []byte, truncated bool, secrets []string) string {
	s := string(raw)
	spans := matches(s, secrets)
	from := 0
	if truncated {
		for _, sec := range secrets {
			from = max(from, len(sec)-1)
		}
		from = min(from, len(s))
		kept := spans[:0:0]
		for _, sp := range spans {
			switch {
			case sp.end <= from:
			case sp.start < from:
				from = sp.end // the span straddles the cut: drop it whole
			default:
				kept = append(kept, sp)
			}
		}
		spans = kept
	}
	return lastBytes(render(s, spans, from), outputLimit)
}

// lastBytes keeps at most n bytes from the end of s without splitting a UTF-8 sequence.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// tailBuffer is an io.Writer that keeps only the last limit bytes written, so a chatty deploy
// cannot exhaust the worker's memory.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	limit     int
	truncated bool
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	// Compact only past twice the limit, so that many small writes do not copy every time.
	if len(t.buf) > 2*t.limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
		t.truncated = true
	}
	return len(p), nil
}

// safe returns the redacted, truncated output.
func (t *tailBuffer) safe(secrets []string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	raw, truncated := t.buf, t.truncated
	if len(raw) > t.limit {
		raw, truncated = raw[len(raw)-t.limit:], true
	}
	return safeOutput(raw, truncated, secrets)
}
