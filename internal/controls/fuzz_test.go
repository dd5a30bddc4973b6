package controls

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzValidateCIDRs: every entry of a list that ValidateCIDRs accepts parses with
// netip.ParsePrefix, the parser the backend uses (demo/authbackend parseCIDRs), so a deny list
// that passes the client's check is never refused, or read differently, by the backend. The
// list is the fuzz input split at commas (no CIDR holds one); an empty list is refused.
func FuzzValidateCIDRs(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/8",
		"10.1.2.3/8,192.168.0.0/16",
		"2001:db8::/32,::/0,0.0.0.0/0",
		"192.0.2.0/24",
		"::ffff:10.0.0.0/104",
		"10.0.0.0/33",
		"10.0.0.0",
		"10.0.0.0/8 ",
		" 10.0.0.0/8",
		"010.0.0.0/8",
		"fe80::1%eth0/64",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/8,",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cidrs := strings.Split(s, ",")
		if err := ValidateCIDRs(cidrs); err == nil {
			for _, c := range cidrs {
				if _, err := netip.ParsePrefix(c); err != nil {
					t.Fatalf("ValidateCIDRs accepted %q, but netip.ParsePrefix refuses %q: %v", cidrs, c, err)
				}
			}
		}
		if ValidateCIDRs(nil) == nil || ValidateCIDRs([]string{}) == nil {
			t.Fatal("an empty CIDR list was accepted")
		}
	})
}
