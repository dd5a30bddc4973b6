package contract

import (
	"strings"
	"testing"
)

// Text from people must not forge a timeline line or recolour a terminal.
func TestCleanTextEscapesControlAndFormatCharacters(t *testing.T) {
	cases := map[string]string{
		"plain comment":                     "plain comment",
		"ok\n12:00 bob approve accepted":    `ok\u000a12:00 bob approve accepted`,
		"\x1b[31mred\x1b[0m":                `\u001b[31mred\u001b[0m`,
		"abc\u202edcba":                     `abc\u202edcba`,
		"tab\there":                         `tab\u0009here`,
		"zero\u200bwidth joiner\u200d done": `zero\u200bwidth joiner\u200d done`,
		"accents stay: café, Zoë, 東京":       "accents stay: café, Zoë, 東京",
		"invalid \xff byte":                 `invalid \xff byte`,
	}
	for in, want := range cases {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckTextRefusesControlCharacters(t *testing.T) {
	if err := CheckText("--reason", "leaked in a public gist"); err != nil {
		t.Fatalf("plain text refused: %v", err)
	}
	for _, in := range []string{"a\nb", "a\rb", "\x1b[2J", "bidi \u202e override", "nul\x00"} {
		err := CheckText("--reason", in)
		if err == nil || !strings.Contains(err.Error(), "--reason holds a control character") {
			t.Errorf("CheckText(%q) = %v, want a refusal naming the field", in, err)
		}
	}
}
