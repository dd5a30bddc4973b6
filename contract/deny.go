package contract

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Deny ranges have one normal form, made here and nowhere else: a masked netip.Prefix, with an
// IPv4-mapped IPv6 range (::ffff:192.0.2.0/120) in its IPv4 form (192.0.2.0/24). A backend
// matches a client by its unmapped address, so the mapped form as written would deny nobody.

// NormalizeCIDR parses a deny range into its normal form. It refuses text that is not a CIDR,
// a range with host bits set, and a mapped range shorter than /96: that is not a whole IPv4
// range (it reaches outside ::ffff:0:0/96), so no IPv4 form says the same.
func NormalizeCIDR(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", CleanText(cidr))
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("CIDR %s is an IPv4-mapped range shorter than /96, so it is not a whole IPv4 range; write the IPv4 range itself (e.g. 192.0.2.0/24)", CleanText(cidr))
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %s has host bits set; did you mean %s?", CleanText(cidr), m)
	}
	return p, nil
}

// NormalizeCIDRs returns the normal forms of cidrs, in order and without duplicates, or every
// error at once.
func NormalizeCIDRs(cidrs []string) ([]string, error) {
	var out []string
	var errs []error
	seen := map[netip.Prefix]bool{}
	for _, c := range cidrs {
		p, err := NormalizeCIDR(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p.String())
		}
	}
	return out, errors.Join(errs...)
}

// lockOutSpaces are what the deny guard keeps from being covered whole: every IPv4 client and
// every IPv6 client. The mapped block counts as covered for IPv6, since its clients are IPv4
// ones and the IPv4 space speaks for them.
var (
	allIPv4   = netip.MustParsePrefix("0.0.0.0/0")
	allIPv6   = netip.MustParsePrefix("::/0")
	mappedV4s = netip.MustParsePrefix("::ffff:0:0/96")
)

// CheckDenyRanges judges a deny of add while the ranges inForce are denied already (the
// incident's other deny measures on the same target). Every range of add must normalise
// (NormalizeCIDR). Without force, it refuses add when the union of inForce and add covers all
// of IPv4, all of IPv6, or an address the worker's probes come from, and inForce alone did not:
// ranges that each look narrow can lock everyone out together (0.0.0.0/1 plus 128.0.0.0/1).
func CheckDenyRanges(inForce, add []string, force bool, probeFrom []string) error {
	var errs []error
	var added []netip.Prefix
	for _, c := range add {
		p, err := NormalizeCIDR(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added = append(added, p)
	}
	if len(errs) > 0 || force {
		return errors.Join(errs...)
	}
	var before []netip.Prefix
	for _, c := range inForce {
		// A range in force was accepted once; one that no longer normalises still denies what
		// its masked form holds.
		if p, err := NormalizeCIDR(c); err == nil {
			before = append(before, p)
		} else if q, err := netip.ParsePrefix(strings.TrimSpace(c)); err == nil {
			before = append(before, q.Masked())
		}
	}
	// sameFamily names the ranges in force that count for space.
	sameFamily := func(space netip.Prefix) []string {
		var out []string
		for _, p := range before {
			if s := p.String(); p.Addr().BitLen() == space.Addr().BitLen() && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	union := append(slices.Clone(before), added...)
	for _, sp := range []struct {
		space  netip.Prefix
		name   string
		spoken []netip.Prefix // counted as covered: their clients are another space's
	}{
		{allIPv4, "IPv4", nil},
		{allIPv6, "IPv6", []netip.Prefix{mappedV4s}},
	} {
		if !CoversPrefix(sp.space, append(slices.Clone(union), sp.spoken...)) || CoversPrefix(sp.space, append(slices.Clone(before), sp.spoken...)) {
			continue
		}
		for n, p := range added {
			if CoversPrefix(sp.space, append([]netip.Prefix{p}, sp.spoken...)) {
				return fmt.Errorf("CIDR %s would lock everyone out (it covers all of %s, %s); add --force if you mean it", CleanText(add[n]), sp.name, sp.space)
			}
		}
		what := "CIDRs " + CleanText(strings.Join(add, ", "))
		if len(add) == 1 {
			what = "CIDR " + CleanText(add[0])
		}
		if in := sameFamily(sp.space); len(in) > 0 {
			what += " with the ranges already denied (" + strings.Join(in, ", ") + ")"
		}
		return fmt.Errorf("%s would lock everyone out (together they cover all of %s, %s); add --force if you mean it", what, sp.name, sp.space)
	}
	for _, a := range probeFrom {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			continue
		}
		// Either form of the address: 127.0.0.1 and ::ffff:127.0.0.1 are the same client. An
		// address is in the union when one range holds it, so one new range does.
		ip = ip.Unmap()
		if holds(before, ip) {
			continue
		}
		for n, p := range added {
			if p.Contains(ip) {
				return fmt.Errorf("CIDR %s holds %s, the address the worker's probes come from; add --force if you mean it", CleanText(add[n]), ip)
			}
		}
	}
	return nil
}

func holds(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CoversPrefix reports whether the union of ps holds every address of space. Prefixes of the
// other address family never count: a v6 range holds no IPv4 client, as backends match a client
// by its unmapped address.
func CoversPrefix(space netip.Prefix, ps []netip.Prefix) bool {
	overlaps := false
	for _, p := range ps {
		if p.Addr().BitLen() != space.Addr().BitLen() {
			continue
		}
		if p.Bits() <= space.Bits() && p.Contains(space.Addr()) {
			return true
		}
		overlaps = overlaps || p.Overlaps(space)
	}
	if !overlaps || space.Bits() == space.Addr().BitLen() {
		return false
	}
	// Only ranges inside space overlap it now: it is covered when both its halves are. The
	// recursion follows those ranges down, so it is bounded by their count times the bit length.
	lo, hi := halves(space)
	return CoversPrefix(lo, ps) && CoversPrefix(hi, ps)
}

// halves splits a masked prefix that is not a single address into its two halves.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	b := p.Addr().AsSlice()
	b[bits/8] |= 0x80 >> (bits % 8)
	hi, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(p.Addr(), bits+1), netip.PrefixFrom(hi, bits+1)
}
