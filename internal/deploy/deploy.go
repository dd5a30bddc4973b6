// Package deploy applies a new configuration to a target: it runs a deploy command or calls a
// deploy webhook, and waits for the target to come back healthy. Secrets never reach Output or
// errors, because both end up in workflow history and Slack.
package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Report is what a deploy did. The output itself never leaves the worker: Output holds only its
// last lines, and Digest identifies the whole of it, both after redaction.
type Report struct {
	// Output is the end of the redacted output: at most outputLines lines and outputLimit bytes.
	Output string `json:"output"`
	// Digest is "sha256:<hex>" of the whole redacted output, every byte the deploy printed.
	Digest string `json:"digest,omitempty"`
	// Bytes is how many bytes the deploy printed.
	Bytes    int64         `json:"bytes,omitempty"`
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration"`
}

const (
	redactedMarker = "[REDACTED]"
	// outputLines and outputLimit bound Report.Output: the end of a deploy log says why it
	// failed, and the report travels through workflow history, where size matters.
	outputLines = 20
	outputLimit = 2 << 10
	// tailLimit is how much redacted output is kept to cut the last lines from.
	tailLimit = 16 << 10
	// pendingLimit bounds the raw output held back while a run of adjacent secrets goes on.
	pendingLimit = 64 << 10
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
		// Only overlapping spans merge: adjacent ones stay two markers, so the text redacts the
		// same whether it arrives whole or in pieces (outputLog).
		if sp.start < last.end {
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

// lastLines keeps the last n lines of s (a final newline ends a line, it does not start one),
// then at most limit bytes of them.
func lastLines(s string, n, limit int) string {
	end := strings.TrimSuffix(s, "\n")
	start := len(end)
	for range n {
		i := strings.LastIndexByte(end[:start], '\n')
		if i < 0 {
			start = 0
			break
		}
		start = i
	}
	if start > 0 {
		start++ // past the newline that ends the line before
	}
	return lastBytes(s[start:], limit)
}

// outputLog is the io.Writer a deploy's output goes to. It redacts as the output streams in,
// so that nothing it keeps or hashes holds a secret, and it keeps only the redacted tail, so that
// a chatty deploy cannot exhaust the worker's memory.
//
// Raw bytes wait in pending until no secret that starts among them can still be cut off by the
// end of what has arrived: a match that starts hold bytes or more before the end lies whole
// inside pending, so everything before that point can be redacted for good.
type outputLog struct {
	mu      sync.Mutex
	secrets []string
	hold    int // the longest secret, less one byte
	pending []byte
	// dirty is how many bytes at the start of pending must be redacted whatever they hold: the
	// rest of a secret whose start was flushed inside a forced span.
	dirty int
	sum   hash.Hash
	tail  []byte
	total int64
}

func newOutputLog(secrets []string) *outputLog {
	o := &outputLog{sum: sha256.New()}
	for _, s := range secrets {
		if s != "" {
			o.secrets = append(o.secrets, s)
			o.hold = max(o.hold, len(s)-1)
		}
	}
	return o
}

func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.total += int64(len(p))
	o.pending = append(o.pending, p...)
	o.flush(false)
	return len(p), nil
}

// flush redacts and emits the part of pending that no later byte can change; final emits all.
func (o *outputLog) flush(final bool) {
	s := string(o.pending)
	spans := matches(s, o.secrets)
	if o.dirty > 0 {
		spans = redactPrefix(spans, min(o.dirty, len(s)))
	}
	cut := len(s)
	if !final {
		cut = max(len(s)-o.hold, 0)
	}
	forced := false
	var emit []span
	for _, sp := range spans {
		if sp.start >= cut {
			break
		}
		if sp.end > cut {
			// The span may still grow with the next bytes: hold it back whole, unless a run of
			// adjacent secrets has grown past any sane size. Then it goes out as one marker, and
			// the next hold bytes, which may end a secret that began inside it, are redacted too.
			if len(s) < pendingLimit {
				cut = sp.start
				break
			}
			cut, forced = sp.end, true
		}
		emit = append(emit, sp)
		if forced {
			break
		}
	}
	if cut == 0 {
		return
	}
	out := render(s[:cut], emit, 0)
	o.sum.Write([]byte(out))
	o.tail = append(o.tail, out...)
	if len(o.tail) > 2*tailLimit {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailLimit:]...)
	}
	o.pending = append(o.pending[:0], o.pending[cut:]...)
	if forced {
		o.dirty = o.hold
	} else {
		o.dirty = max(o.dirty-cut, 0)
	}
}

// redactPrefix adds the span [0,n) to sorted, merged spans.
func redactPrefix(spans []span, n int) []span {
	end, i := n, 0
	for ; i < len(spans) && spans[i].start <= end; i++ {
		end = max(end, spans[i].end)
	}
	return append([]span{{0, end}}, spans[i:]...)
}

// report fills in the output fields of r from everything written so far.
func (o *outputLog) report(r *Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flush(true)
	r.Output = lastLines(string(o.tail), outputLines, outputLimit)
	r.Digest = "sha256:" + hex.EncodeToString(o.sum.Sum(nil))
	r.Bytes = o.total
}
