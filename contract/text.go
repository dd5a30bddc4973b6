package contract

import (
	"fmt"
	"strings"
	"unicode"
)

// CleanText makes text from people safe to print: control and format characters (Unicode Cc
// and Cf, bidi overrides included) are shown as \u escapes, so a comment cannot forge a line
// or recolour a terminal.
func CleanText(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
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
