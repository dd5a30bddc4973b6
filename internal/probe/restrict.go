package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/authops/authops/contract"
)

// Restriction is a route prefix that answers its Status instead of its handler.
type Restriction = contract.RouteRestriction

// UnderPrefix matches whole path segments, as the backend's route restrictions do: /admin covers
// /admin/users but not /administrator.
func UnderPrefix(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// RestrictionName is the name of the check that a restricted prefix answers its status.
func RestrictionName(r Restriction) string {
	return fmt.Sprintf("restricted %s answers %d", r.Prefix, r.Status)
}

// CheckRestrictions checks that each restricted prefix answers its restricted status to an
// anonymous GET. Check names: see RestrictionName.
func (t Target) CheckRestrictions(ctx context.Context, restricted []Restriction) Results {
	var rs Results
	for _, r := range restricted {
		rs = append(rs, t.Expect(ctx, RestrictionName(r), http.MethodGet, r.Prefix, "", r.Status))
	}
	return rs
}

// DeferRestricted marks deferred every check that a restriction answered first: a check on a path
// under a restricted prefix that got the restricted status. Such a check (the privilege probe on
// /admin/users while /admin answers 503, or answers 403 as the probe expects) proved nothing
// either way, so it must neither pass nor fail; it runs again once the restriction is lifted. A
// check the restriction did not answer keeps its own outcome, and neither local checks (no
// method: nothing was sent) nor the restriction checks themselves are ever deferred.
//
// Only the restrictions passed in count: the caller says what is restricted, the live control
// state never decides what a check means.
func DeferRestricted(rs Results, restricted []Restriction) Results {
	for i, r := range rs {
		if r.Method == "" || r.Deferred {
			continue
		}
		for _, rr := range restricted {
			if r.Name == RestrictionName(rr) || !UnderPrefix(r.Path, rr.Prefix) || r.Got != rr.Status {
				continue
			}
			rs[i].OK = false
			rs[i].Deferred = true
			rs[i].Detail = fmt.Sprintf("deferred: %s is restricted and answered %d first; checked again when the restriction is lifted", rr.Prefix, rr.Status)
			break
		}
	}
	return rs
}

// AdminForbidden logs the (non-admin) probe user in and checks that the admin path answers 403
// to its token. Check name: admin_forbidden_for_user, as in VerifyRotation.
func (t Target) AdminForbidden(ctx context.Context, creds Credentials) Result {
	sess, login := t.Login(ctx, creds)
	var res Result
	if sess.AccessToken == "" {
		res = notRun("admin_forbidden_for_user", http.MethodGet, t.adminPath(), http.StatusForbidden, "probe login failed: "+login.Detail)
	} else {
		res = t.Expect(ctx, "admin_forbidden_for_user", http.MethodGet, t.adminPath(), sess.AccessToken, http.StatusForbidden)
	}
	return scrubAll(Results{res}, creds.Password, sess.AccessToken, sess.RefreshToken, sess.Cookie)[0]
}

// PrivilegePath is the path the privilege probe uses: AdminPath, or its default.
func (t Target) PrivilegePath() string { return t.adminPath() }
