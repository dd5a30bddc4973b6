package contract

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalizeCIDR(t *testing.T) {
	cases := []struct {
		in   string
		want string // the normal form, or "" when refused
		err  string
	}{
		{"203.0.113.0/24", "203.0.113.0/24", ""},
		{" 10.9.0.0/16 ", "10.9.0.0/16", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		// A mapped range is its IPv4 range.
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"::ffff:127.0.0.2/128", "127.0.0.2/32", ""},
		{"::ffff:0:0/96", "0.0.0.0/0", ""},
		{"::FFFF:c000:0200/120", "192.0.2.0/24", ""},
		// A mapped range shorter than /96 reaches outside the mapped block.
		{"::ffff:0:0/95", "", "IPv4-mapped range shorter than /96"},
		{"::ffff:192.0.2.0/64", "", "not a whole IPv4 range"},
		// Host bits, in either form; the hint is the normal form.
		{"10.0.0.1/8", "", "CIDR 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
		{"::ffff:192.0.2.1/120", "", "CIDR ::ffff:192.0.2.1/120 has host bits set; did you mean 192.0.2.0/24?"},
		{"2001:db8::1/32", "", "did you mean 2001:db8::/32?"},
		// Not CIDRs at all.
		{"10.0.0.0/08", "", `invalid CIDR "10.0.0.0/08"`},
		{"10.0.0.300/8", "", "invalid CIDR"},
		{"fe80::1%eth0/64", "", "invalid CIDR"},
		{"nope", "", `invalid CIDR "nope"`},
		{"", "", "invalid CIDR"},
	}
	// Text from people is cleaned before it is shown back.
	if _, err := NormalizeCIDR("10.0.0.0/8\x1b[2K"); err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("a control character: got %v", err)
	}
	for _, c := range cases {
		p, err := NormalizeCIDR(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: refused: %v", c.in, err)
		case c.err == "" && p.String() != c.want:
			t.Errorf("%q: normal form %s, want %s", c.in, p, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: got %v (%s), want an error with %q", c.in, err, p, c.err)
		}
	}
}

func TestNormalizeCIDRs(t *testing.T) {
	got, err := NormalizeCIDRs([]string{"::ffff:192.0.2.0/120", "192.0.2.0/24", "2001:db8::/32"})
	if err != nil || strings.Join(got, ",") != "192.0.2.0/24,2001:db8::/32" {
		t.Fatalf("got %q, %v; want the normal forms once each", got, err)
	}
	_, err = NormalizeCIDRs([]string{"nope", "203.0.113.0/24", "10.0.0.1/8"})
	if err == nil || !strings.Contains(err.Error(), `invalid CIDR "nope"`) || !strings.Contains(err.Error(), "host bits set") {
		t.Fatalf("got %v; want both refusals", err)
	}
}

func TestCheckDenyRanges(t *testing.T) {
	probes := []string{"127.0.0.1"}
	cases := []struct {
		name    string
		inForce []string
		add     []string
		force   bool
		want    string // "" accepts
	}{
		{"one narrow range", nil, []string{"203.0.113.0/24"}, false, ""},
		{"narrow ranges beside narrow ones in force", []string{"198.51.100.0/24"}, []string{"203.0.113.0/24", "2001:db8::/32"}, false, ""},
		{"two halves of IPv4", nil, []string{"0.0.0.0/1", "128.0.0.0/1"}, false, "CIDRs 0.0.0.0/1, 128.0.0.0/1 would lock everyone out (together they cover all of IPv4"},
		{"the second half of IPv4 next to the first in force", []string{"0.0.0.0/1"}, []string{"128.0.0.0/1"}, false,
			"CIDR 128.0.0.0/1 with the ranges already denied (0.0.0.0/1) would lock everyone out (together they cover all of IPv4"},
		{"IPv4 in quarters", []string{"0.0.0.0/2", "64.0.0.0/2"}, []string{"128.0.0.0/2", "192.0.0.0/2"}, false, "all of IPv4"},
		{"IPv4 halves with force", []string{"0.0.0.0/1"}, []string{"128.0.0.0/1"}, true, ""},
		{"IPv4 with a hole", []string{"0.0.0.0/1"}, []string{"128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4"}, false, ""},
		{"two halves of IPv6", nil, []string{"::/1", "8000::/1"}, false, "together they cover all of IPv6"},
		{"all of IPv6 but the mapped block", []string{"8000::/1", "4000::/2", "2000::/3", "1000::/4"},
			[]string{"::/4"}, false, "all of IPv6"},
		{"mapped halves of IPv4", nil, []string{"::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"}, false, "all of IPv4"},
		{"mapped half next to an IPv4 half", []string{"0.0.0.0/1"}, []string{"::ffff:128.0.0.0/97"}, false, "all of IPv4"},
		{"the whole mapped block", nil, []string{"::ffff:0:0/96"}, false, "CIDR ::ffff:0:0/96 would lock everyone out (it covers all of IPv4"},
		{"single wide range", nil, []string{"0.0.0.0/0"}, false, "CIDR 0.0.0.0/0 would lock everyone out"},
		{"::/0", nil, []string{"::/0"}, false, "CIDR ::/0 would lock everyone out (it covers all of IPv6"},
		// An IPv6 range holds no IPv4 client: ::/1 and the IPv4 halves are not mixed up.
		{"IPv6 ranges do not cover IPv4", nil, []string{"::/1", "128.0.0.0/1"}, false, ""},
		// Already locked out by a forced measure: the new range adds nothing to it.
		{"a narrow range while all is denied by force", []string{"0.0.0.0/0", "::/0", "127.0.0.0/8"}, []string{"203.0.113.0/24"}, false, ""},
		{"the probes' address", nil, []string{"127.0.0.0/8"}, false, "CIDR 127.0.0.0/8 holds 127.0.0.1, the address the worker's probes come from"},
		{"the probes' address, mapped", nil, []string{"::ffff:127.0.0.0/104"}, false, "holds 127.0.0.1"},
		{"the probes' address across ranges", []string{"127.0.0.0/9"}, []string{"10.0.0.0/8"}, false, ""},
		{"the probes' address by force", nil, []string{"127.0.0.0/8"}, true, ""},
		{"another loopback address", nil, []string{"127.0.0.2/32"}, false, ""},
		{"invalid", nil, []string{"203.0.113.0/24", "nope"}, false, `invalid CIDR "nope"`},
		{"invalid even with force", nil, []string{"10.0.0.1/8"}, true, "host bits set"},
		{"partial mapped even with force", nil, []string{"::ffff:0:0/95"}, true, "not a whole IPv4 range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckDenyRanges(c.inForce, c.add, c.force, probes)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	// A mapped probe address is the same client.
	if err := CheckDenyRanges(nil, []string{"127.0.0.0/8"}, false, []string{"::ffff:127.0.0.1"}); err == nil || !strings.Contains(err.Error(), "holds 127.0.0.1") {
		t.Errorf("mapped probe address: got %v", err)
	}
}

func TestCoversPrefix(t *testing.T) {
	ps := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, c := range s {
			out = append(out, netip.MustParsePrefix(c))
		}
		return out
	}
	all4 := netip.MustParsePrefix("0.0.0.0/0")
	one := netip.MustParsePrefix("10.0.0.1/32")
	cases := []struct {
		space netip.Prefix
		ps    []netip.Prefix
		want  bool
	}{
		{all4, nil, false},
		{all4, ps("0.0.0.0/0"), true},
		{all4, ps("0.0.0.0/1", "128.0.0.0/1"), true},
		{all4, ps("0.0.0.0/1", "128.0.0.0/2"), false},
		{all4, ps("::/0"), false},
		{one, ps("10.0.0.0/31"), true},
		{one, ps("10.0.0.0/32"), false},
		{netip.MustParsePrefix("10.0.0.0/30"), ps("10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/31"), true},
		{netip.MustParsePrefix("::/0"), ps("::/1", "8000::/2", "c000::/2"), true},
	}
	for _, c := range cases {
		if got := CoversPrefix(c.space, c.ps); got != c.want {
			t.Errorf("CoversPrefix(%s, %v) = %v, want %v", c.space, c.ps, got, c.want)
		}
	}
}

func TestProbeResults_NotProbed(t *testing.T) {
	rs := ProbeResults{
		{Name: "login", OK: true},
		{Name: "denied_range_refused 203.0.113.0/24", NotProbed: true},
	}
	if len(rs.Failed()) != 0 || len(rs.NotProbed()) != 1 || len(rs.Passed()) != 1 || !rs.OK() {
		t.Fatalf("a not-probed check neither passes nor fails: failed %v, not probed %v, passed %v", rs.Failed(), rs.NotProbed(), rs.Passed())
	}
	if only := rs[1:]; only.OK() || len(only.Passed()) != 0 {
		t.Fatal("nothing but not-probed checks proves nothing")
	}
}
