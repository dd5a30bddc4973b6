package contract

import (
	"strings"
	"testing"
)

func TestCheckDenyCIDR(t *testing.T) {
	probes := []string{"127.0.0.1"}
	cases := []struct {
		cidr  string
		force bool
		want  string // "" accepts
	}{
		{"10.9.0.0/16", false, ""},
		{"127.0.0.2/32", false, ""},
		{"2001:db8::/32", false, ""},
		{"10.0.0.1/8", false, "host bits set"},
		{"10.0.0.0/08", false, "invalid CIDR"},
		{"not-a-cidr", false, "invalid CIDR"},
		{"0.0.0.0/0", false, "lock everyone out"},
		{"::/0", false, "lock everyone out"},
		{"::ffff:0:0/96", false, "lock everyone out"},
		{"0.0.0.0/0", true, ""},
		{"127.0.0.0/8", false, "probes come from"},
		{"::ffff:127.0.0.0/104", false, "probes come from"},
		{"127.0.0.0/8", true, ""},
	}
	for _, c := range cases {
		err := CheckDenyCIDR(c.cidr, c.force, probes)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s (force %v): refused: %v", c.cidr, c.force, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s (force %v): got %v, want an error with %q", c.cidr, c.force, err, c.want)
		}
	}
}
