package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/authops/authops/contract"
)

// A check that could not be sent is listed as not probed, apart from what passed, and its
// stage says so; a report with none has no such section.
func TestMarkdownListsNotProbed(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "## Not probed") {
		t.Errorf("a report with every check sent has a Not probed section:\n%s", b.String())
	}
	r.Validations = append(r.Validations, contract.Validation{Stage: "verify 1 demo", OK: true, Results: contract.ProbeResults{
		{Name: "denied_range_refused 127.0.0.2/32", Method: "POST", Path: "/auth/token", Expected: 403, Got: 403, OK: true, At: t0,
			Detail: "cidr_denied; from 127.0.0.2"},
		{Name: "denied_range_refused 203.0.113.0/24", Method: "POST", Path: "/auth/token", Expected: 403, NotProbed: true, At: t0,
			Detail: "not probed: no local address in range to probe from"},
	}})
	b.Reset()
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## Not probed", "| verify 1 demo | denied\\_range\\_refused 203.0.113.0/24 | not probed: no local address in range to probe from |",
		"### Stage: verify 1 demo (passed; 1 not probed)",
		"| denied\\_range\\_refused 203.0.113.0/24 | POST /auth/token | 403 | 0 | not probed |",
		"| denied\\_range\\_refused 127.0.0.2/32 | POST /auth/token | 403 | 403 | passed |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
