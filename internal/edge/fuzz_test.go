package edge

import (
	"regexp"
	"strings"
	"testing"
)

// lineForm is every line Render may write: comments, deny lines, and the two location blocks.
var lineForm = regexp.MustCompile(`^(#[^\n]*|deny [0-9a-f.:]+/[0-9]+;|location (= |\^~ )/[A-Za-z0-9._~/-]+ \{|    return (403|503);|\})$`)

// FuzzRender: whatever route and range Render accepts, the include holds only lines of the
// forms above (nothing nginx would read as more syntax), and Parse gives the state back.
func FuzzRender(f *testing.F) {
	for _, s := range [][3]string{{"/admin", "203.0.113.0/24", "503"}, {"/a;b", "10.0.0.0/8", "403"},
		{"/x{", "::ffff:192.0.2.0/120", "503"}, {"/ok/", "2001:db8::/32", "403"}, {"/a b", "1.2.3.4/32", "200"}} {
		f.Add(s[0], s[1], s[2] == "403")
	}
	f.Fuzz(func(t *testing.T, prefix, cidr string, forbid bool) {
		status := 503
		if forbid {
			status = 403
		}
		st := State{Denied: []string{cidr}, Routes: []Route{{Prefix: prefix, Status: status}}}
		b, err := Render(st)
		if err != nil {
			return
		}
		for line := range strings.Lines(string(b)) {
			if !lineForm.MatchString(strings.TrimSuffix(line, "\n")) {
				t.Fatalf("line %q of the include for %q %q", line, prefix, cidr)
			}
		}
		back, err := Parse(b)
		if err != nil || len(back.Denied) != 1 || len(back.Routes) != 1 {
			t.Fatalf("Parse(Render) = %+v, %v", back, err)
		}
	})
}
