package contract

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText makes text from people safe to print: control and format characters (Unicode Cc
// and Cf, bidi overrides included) are shown as \u escapes and invalid UTF-8 bytes as \x
// escapes, so a comment cannot forge a line or recolour a terminal.
func CleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			// An invalid byte: a terminal or tabwriter may take it for the start of an escape.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// CheckText refuses text that holds control or format characters; field names it in the error.
func CheckText(field, s string) error {
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return fmt.Errorf("%s holds a control character (%q at byte %d); use plain text", field, []rune(s[i:])[0], i)
	}
	return nil
}

func isControl(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }
