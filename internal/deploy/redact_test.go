package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"none", "hello", nil, "hello"},
		{"empty secret ignored", "hello", []string{""}, "hello"},
		{"every occurrence", "a=s3cr3t b=s3cr3t", []string{"s3cr3t"}, "a=[REDACTED] b=[REDACTED]"},
		{"several secrets", "user=alice pass=hunter2", []string{"alice", "hunter2"}, "user=[REDACTED] pass=[REDACTED]"},
		// Sequential replacement would leave "ef" of the second secret behind.
		{"overlapping secrets", "x abcdef y", []string{"abcd", "cdef"}, "x [REDACTED] y"},
		{"secret inside another", "key=longsecret", []string{"secret", "longsecret"}, "key=[REDACTED]"},
		{"self-overlapping", "aaaaa", []string{"aaa"}, "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Redact(tt.in, tt.secrets...))
		})
	}
}

// written feeds text to a fresh outputLog in chunks of the given sizes (cycled) and reports.
func written(text string, secrets []string, chunks ...int) Report {
	o := newOutputLog(secrets)
	for i := 0; len(text) > 0; i++ {
		n := min(chunks[i%len(chunks)], len(text))
		_, _ = o.Write([]byte(text[:n]))
		text = text[n:]
	}
	var r Report
	o.report(&r)
	return r
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestOutputLogRedactsWhateverTheChunks(t *testing.T) {
	secrets := []string{"0123456789-secret", "xoxb-slack-bot-token", "cdef", "abcd"}
	text := "start 0123456789-secret mid xoxb-slack-bot-token x abcdef y 0123456789-secret0123456789-secret end\n"
	want := Redact(text, secrets...)
	require.NotContains(t, want, "secret")
	for _, chunks := range [][]int{{1}, {2}, {3}, {5, 1}, {7}, {16}, {1 << 20}} {
		r := written(text, secrets, chunks...)
		assert.Equal(t, want, r.Output, "chunks %v", chunks)
		assert.Equal(t, sha(want), r.Digest, "the digest is of the redacted output")
		assert.Equal(t, int64(len(text)), r.Bytes)
	}
}

func TestOutputLogRandomChunksMatchRedact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab\n"
	secrets := []string{"abba", "baab", "aaa", "b\nb"}
	for range 500 {
		var b strings.Builder
		for range rng.IntN(200) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		text := b.String()
		r := written(text, secrets, 1+rng.IntN(9), 1+rng.IntN(3))
		assert.Equal(t, sha(Redact(text, secrets...)), r.Digest, "text %q", text)
	}
}

func TestOutputLogKeepsLastLinesAndDigestOfAll(t *testing.T) {
	const secret = "s3cr3t-Value-42"
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "line %d %s\n", i, secret)
	}
	b.WriteString("END\n")
	text := b.String()
	r := written(text, []string{secret}, 4096)
	assert.Equal(t, sha(Redact(text, secret)), r.Digest, "every byte is in the digest, not only the tail")
	assert.Equal(t, int64(len(text)), r.Bytes)
	assert.NotContains(t, r.Output, secret)
	assert.True(t, strings.HasSuffix(r.Output, "line 4999 [REDACTED]\nEND\n"), r.Output)
	assert.Equal(t, outputLines, strings.Count(r.Output, "\n"))
	assert.True(t, strings.HasPrefix(r.Output, "line 4981 "), r.Output)

	// Long lines: the byte bound wins, and the end is kept.
	long := strings.Repeat("x", 3*outputLimit) + "END"
	r = written(long, nil, 100)
	assert.Len(t, r.Output, outputLimit)
	assert.True(t, strings.HasSuffix(r.Output, "END"))
}

func TestOutputLogLongRunOfSecretsLeavesNoFragment(t *testing.T) {
	// Overlapping secrets make one span of a run of them; past pendingLimit it is emitted as it
	// goes, and the rest of a secret that began inside it (B, cut at the chunk boundary) must be
	// redacted as well.
	const a, c, b = "0123456789abcdef", "cdef0123456789ab", "cdefTAIL-PART"
	run := strings.Repeat(a, 2*pendingLimit/len(a))
	text := run + "TAIL-PART and more text end\n"
	r := written(text, []string{a, b, c}, 1024)
	assert.NotContains(t, r.Output, "TAIL")
	assert.NotContains(t, r.Output, "PART")
	assert.True(t, strings.HasSuffix(r.Output, "text end\n"), r.Output)
	assert.Equal(t, int64(len(text)), r.Bytes)
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 2, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"\n\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, lastLines(tt.in, tt.n, 100), "%q", tt.in)
	}
	assert.Equal(t, "é", lastLines("aé", 1, 2), "never splits a UTF-8 sequence")
}
