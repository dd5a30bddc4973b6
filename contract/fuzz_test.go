package contract

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// controlRune is the oracle for "control or format character": Unicode Cc and Cf, written out
// here rather than reusing isControl, so the fuzzers check CleanText against the definition.
func controlRune(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }

// FuzzCleanText: the output of CleanText holds no rune in Cc or Cf, CleanText changes nothing
// in its own output (a report cleaned twice reads the same), text without control or format
// characters is returned byte for byte, and every other rune of the input survives, in order.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{
		"",
		"plain comment",
		"accents stay: café, Zoë, 東京",
		"ok\n12:00 bob approve accepted",
		"\r\n\t\v\f\x00\x7f",
		"\x1b[31mred\x1b[0m",
		"abc\u202edcba\u202c",
		"zero\u200bwidth joiner\u200d done\ufeff",
		"soft\u00adhyphen",
		"C1 \u0085 NEL \u009b CSI",
		"tag \U000e0001\U000e0041 chars",
		`already escaped \u000a stays`,
		"line\u2028sep\u2029para",
		"invalid \xff\xfe utf-8",
		"invalid \xff with \x1b escape",
		"\xc2\x85 is NEL encoded, \xc2 alone is not",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := CleanText(s)
		for i, r := range out {
			if controlRune(r) {
				t.Fatalf("CleanText(%q) = %q: %U at byte %d is a control or format character", s, out, r, i)
			}
		}
		if again := CleanText(out); again != out {
			t.Fatalf("CleanText is not idempotent: CleanText(%q) = %q, CleanText of that = %q", s, out, again)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, controlRune) && out != s {
			t.Fatalf("CleanText changed text without control characters: %q -> %q", s, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("CleanText(%q) = %q is not valid UTF-8: invalid bytes must be escaped", s, out)
		}
		if utf8.ValidString(s) {
			if !utf8.ValidString(out) {
				t.Fatalf("CleanText(%q) = %q is not valid UTF-8", s, out)
			}
			// Every rune is kept as it is, except control and format runes, each of which
			// becomes its \u escape (4 hex digits, up to 6 above U+FFFF).
			var want strings.Builder
			for _, r := range s {
				if controlRune(r) {
					fmt.Fprintf(&want, `\u%04x`, r)
				} else {
					want.WriteRune(r)
				}
			}
			if out != want.String() {
				t.Fatalf("CleanText(%q) = %q, want %q", s, out, want.String())
			}
		}
	})
}

// FuzzValidatePrefixes: a route prefix that ValidatePrefixes accepts starts with "/", holds no
// control, format or space rune (a restriction on "/admin\u0085" matches no request and
// protects nothing), has no "//", and is neither "/" nor under /_control or /healthz. A list is accepted exactly when it is not empty and each of its
// entries is accepted on its own.
func FuzzValidatePrefixes(f *testing.F) {
	for _, p := range []struct {
		a, b string
		r    rune
	}{
		{"/admin", "/api/v1/users", 'x'},
		{"/admin/", "/", '/'},
		{"/_control/state", "/healthz", '_'},
		{"/healthzz", "/_controlled", 'z'},
		{"admin", "/a//b", ' '},
		{"/admin\n", "/admin?x=1", '\n'},
		{"/a b", "/a#frag", '#'},
		{"/a%2f", `/a\b`, '%'},
		{"/a*", "/\x7f", 0x7f},
		{"/tokyo/東京", "/café", 'é'},
		{"/a\x00b", "", 0},
	} {
		f.Add(p.a, p.b, p.r)
	}
	// r is appended to a as a third prefix: the fuzzer mutates an int32 by small steps, which
	// walks through the Unicode control and space blocks faster than byte edits of UTF-8 do.
	f.Fuzz(func(t *testing.T, a, b string, r rune) {
		c := a + string(r)
		okA := ValidatePrefixes([]string{a}) == nil
		okB := ValidatePrefixes([]string{b}) == nil
		okC := ValidatePrefixes([]string{c}) == nil
		for _, p := range []struct {
			s  string
			ok bool
		}{{a, okA}, {b, okB}, {c, okC}} {
			if p.ok {
				checkAcceptedPrefix(t, p.s)
			}
		}
		if okAll := ValidatePrefixes([]string{a, b, c}) == nil; okAll != (okA && okB && okC) {
			t.Fatalf("ValidatePrefixes(%q, %q, %q) accepted=%v, but alone %v, %v, %v", a, b, c, okAll, okA, okB, okC)
		}
		if ValidatePrefixes(nil) == nil || ValidatePrefixes([]string{}) == nil {
			t.Fatal("an empty route list was accepted")
		}
	})
}

func checkAcceptedPrefix(t *testing.T, p string) {
	t.Helper()
	switch {
	case !strings.HasPrefix(p, "/"):
		t.Fatalf("accepted %q: does not start with /", p)
	case strings.Contains(p, "//"):
		t.Fatalf("accepted %q: holds //", p)
	case p == "/" || strings.HasPrefix(p, "/_control") || strings.HasPrefix(p, "/healthz"):
		t.Fatalf("accepted %q: would cut off the control API or health checks", p)
	}
	for i, r := range p {
		if controlRune(r) || unicode.IsSpace(r) || unicode.Is(unicode.Z, r) {
			t.Fatalf("accepted %q: %U at byte %d is a control, format or space character", p, r, i)
		}
	}
}
