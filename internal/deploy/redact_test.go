package deploy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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

func TestSafeOutputTruncatedKeepsTailAndDropsCutSecret(t *testing.T) {
	const secret = "0123456789-secret"
	// The capture window starts in the middle of a secret: its tail must not survive.
	raw := []byte(secret[5:] + " middle " + secret + " end")
	got := safeOutput(raw, true, []string{secret})
	assert.NotContains(t, got, secret[5:])
	// len(secret)-1 bytes are dropped from the front, then the full occurrence is redacted.
	assert.Equal(t, "dle [REDACTED] end", got)

	long := strings.Repeat("x", 3*outputLimit) + "END"
	got = safeOutput([]byte(long), false, nil)
	assert.Len(t, got, outputLimit)
	assert.True(t, strings.HasSuffix(got, "END"))
}

func TestTailBufferKeepsLastBytes(t *testing.T) {
	tb := newTailBuffer(10)
	for range 100 {
		_, _ = tb.Write([]byte("abc"))
	}
	_, _ = tb.Write([]byte("XYZ"))
	got := tb.safe(nil)
	assert.True(t, strings.HasSuffix(got, "XYZ"))
	assert.LessOrEqual(t, len(got), 10)
}
