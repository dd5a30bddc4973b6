package activities

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/probe"
)

// wrongPassword is what the bad-password check sends: a fixed, obviously wrong value.
const wrongPassword = "authops-verify-wrong-password"

// VerifyIncident runs the verification checklist against a target.
func (a *Incidents) VerifyIncident(ctx context.Context, in contract.IncidentVerifyInput) (rs contract.ProbeResults, err error) {
	err = heartbeatWhile(ctx, "verifying incident controls on "+in.Target, func() error {
		rs, err = a.verifyIncident(ctx, in)
		return err
	})
	return rs, err
}

func (a *Incidents) verifyIncident(ctx context.Context, in contract.IncidentVerifyInput) (contract.ProbeResults, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	c, err := a.controls(t)
	if err != nil {
		return nil, err
	}
	st, err := c.State(ctx)
	if err != nil {
		return nil, controlErr(err)
	}
	pt := a.probe(t)
	secrets := []string{creds.Password}
	var rs probe.Results

	// POST /auth/token behaves as the controls say.
	sess, login := pt.Login(ctx, creds)
	secrets = append(secrets, sess.AccessToken, sess.RefreshToken, sess.Cookie)
	login.Name = "valid_login"
	rs = append(rs, login)
	rs = append(rs, a.loginCheck(ctx, t, nil, "bad_password_rejected", creds.Username, wrongPassword, http.StatusUnauthorized))
	for _, u := range in.ResetUsers {
		name := "reset_user_refused " + u
		if u == creds.Username {
			rs = append(rs, a.loginCheck(ctx, t, nil, name, u, creds.Password, http.StatusForbidden))
			continue
		}
		// The backend checks the password before the reset, and only the probe user's password is
		// known here: a login cannot show the 403, the backend's own state can.
		// So it is "not probed", never passed: only the state was read.
		r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: http.StatusForbidden,
			At: time.Now().UTC(), NotProbed: slices.Contains(st.PasswordResetUsers, u)}
		if r.NotProbed {
			r.Detail = "not probed (the backend checks the password first, and only the probe user's is known); the backend's state requires a reset of " + u
		} else {
			r.Detail = "the backend's state does not require a reset of " + u
		}
		rs = append(rs, r)
	}
	for _, cidr := range in.DeniedCIDRs {
		rs = append(rs, a.deniedRangeCheck(ctx, t, creds, st, cidr))
	}

	// GET /auth/me answers a valid session only.
	if sess.AccessToken == "" {
		rs = append(rs, notRunResult("me_valid_session", http.MethodGet, "/auth/me", http.StatusOK, "probe login failed: "+login.Detail),
			notRunResult("me_tampered_token_rejected", http.MethodGet, "/auth/me", http.StatusUnauthorized, "probe login failed"),
			notRunResult("admin_forbidden_for_user", http.MethodGet, pt.PrivilegePath(), http.StatusForbidden, "probe login failed"))
	} else {
		rs = append(rs, pt.Me(ctx, "me_valid_session", sess.AccessToken, creds.Username, http.StatusOK),
			pt.Me(ctx, "me_tampered_token_rejected", probe.Tamper(sess.AccessToken), "", http.StatusUnauthorized),
			pt.Expect(ctx, "admin_forbidden_for_user", http.MethodGet, pt.PrivilegePath(), sess.AccessToken, http.StatusForbidden))
	}
	revoked, more := revokedSessionRejected(ctx, pt, creds)
	rs = append(rs, revoked)
	secrets = append(secrets, more...)

	var restricted []probe.Restriction
	for _, r := range st.RestrictedRoutes {
		restricted = append(restricted, probe.Restriction{Prefix: r.Prefix, Status: r.Status})
	}
	rs = probe.DeferRestricted(rs, restricted)
	for i := range rs {
		rs[i].Detail = scrubText(rs[i].Detail, secrets...)
	}
	return rs, nil
}

// revokedSessionRejected proves that a revoked session's token gets 401 without touching any
// session but one of its own: it logs the probe user in, uses the refresh token once, and
// replays it, which the backend takes for a stolen token and answers by revoking that session
// (the backend logs a refresh_token_reused security event for the probe user). It returns the
// tokens it handled, to scrub.
func revokedSessionRejected(ctx context.Context, pt probe.Target, creds probe.Credentials) (contract.ProbeResult, []string) {
	const name = "me_revoked_session_rejected"
	sess, login := pt.Login(ctx, creds)
	tokens := []string{sess.AccessToken, sess.RefreshToken, sess.Cookie}
	if sess.AccessToken == "" || sess.RefreshToken == "" {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized, "probe login failed: "+login.Detail), tokens
	}
	if r := pt.Refresh(ctx, "refresh", sess.RefreshToken, http.StatusOK); !r.OK {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized, "could not revoke a probe session: refresh: "+r.Detail), tokens
	}
	if r := pt.Refresh(ctx, "refresh_replayed", sess.RefreshToken, http.StatusUnauthorized); !r.OK {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized,
			"could not revoke a probe session: a replayed refresh token was not refused: "+r.Detail), tokens
	}
	r := pt.Me(ctx, name, sess.AccessToken, "", http.StatusUnauthorized)
	if r.OK {
		r.Detail = "a probe session revoked by replaying its used refresh token"
	}
	return r, tokens
}

// deniedRangeCheck sends a probe login from a local address inside cidr and expects it refused.
// Without such an address the check is not probed (never passed): it only reads that the
// backend's state lists the range, and fails when it does not.
func (a *Incidents) deniedRangeCheck(ctx context.Context, t *config.Target, creds probe.Credentials, st controls.State, cidr string) contract.ProbeResult {
	p, valid := denyForm(cidr)
	if valid {
		cidr = p.String()
	}
	name := "denied_range_refused " + cidr
	from, ok := localAddrIn(t, p)
	if !valid || !ok {
		r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: http.StatusForbidden,
			At: time.Now().UTC(), NotProbed: valid && deniedIn(st, cidr)}
		switch {
		case !valid:
			r.Detail = "not a CIDR: nothing to probe"
		case r.NotProbed:
			r.Detail = "not probed: no local address in range to probe from; the backend's deny list holds it"
		default:
			r.Detail = "no local address in range to probe from, and the backend's deny list does not hold it"
		}
		return r
	}
	r := a.loginCheck(ctx, t, &net.TCPAddr{IP: from.AsSlice()}, name, creds.Username, creds.Password, http.StatusForbidden)
	r.Detail = strings.TrimPrefix(r.Detail+"; from "+from.String(), "; ")
	return r
}

// localAddrIn picks a local address inside the (normal form) range p that can reach the
// target and that this host can bind: for a loopback target a loopback address (127.0.0.2 when
// the range holds it), otherwise an address of one of this host's interfaces.
func localAddrIn(t *config.Target, p netip.Prefix) (netip.Addr, bool) {
	if !p.IsValid() {
		return netip.Addr{}, false
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return netip.Addr{}, false
	}
	if isLoopback(u.Hostname()) {
		for _, c := range []netip.Addr{netip.MustParseAddr("127.0.0.2"), p.Addr().Next(), p.Addr()} {
			if c.IsValid() && c.Is4() && c.IsLoopback() && p.Contains(c) && c != netip.MustParseAddr("127.0.0.0") && canBind(c) {
				return c, true
			}
		}
		return netip.Addr{}, false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && !ip.Unmap().IsLoopback() && p.Contains(ip.Unmap()) {
				return ip.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// canBind reports whether this host can send from a: Linux routes all of 127.0.0.0/8 to the
// loopback interface, other systems only the addresses configured on it.
func canBind(a netip.Addr) bool {
	c, err := net.ListenPacket("udp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
