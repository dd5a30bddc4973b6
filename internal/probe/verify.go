package probe

import (
	"context"
	"net/http"
	"time"
)

// VerifyRotation runs the rotation checklist after a new secret is live: health 200; login 200
// and the issued token verifies with newSecret (and NOT with prevSecret); /auth/me with it 200 +
// right identity; a token minted with prevSecret gets 401 (skip if prevSecret empty); no token
// 401; tampered 401; alg=none 401; the (non-admin) probe user's token on AdminPath gets 403.
//
// Check names: health, login, token_signed_with_new_secret, me_new_token,
// prev_secret_token_rejected, no_token_rejected, tampered_token_rejected, alg_none_rejected,
// admin_forbidden_for_user. Empty fields of c are taken from the token the target issues, and
// minted tokens carry the sid of this fresh login, so that a session-backed target can only
// refuse them for their key or alg. The prev-secret check is only a pass when the very same
// claims signed with newSecret are accepted: otherwise its 401 proved nothing about the key.
func (t Target) VerifyRotation(ctx context.Context, creds Credentials, c Claims, newSecret, prevSecret string) Results {
	health := t.Health(ctx)
	sess, login := t.Login(ctx, creds)
	return t.VerifyLogin(ctx, creds, c, sess, Results{health, login}, newSecret, prevSecret)
}

// VerifyLogin is VerifyRotation for a login already made: sess is what logging in as creds
// gave, and rs the checks so far (health, login). A caller that needs the probe user's session
// for more checks logs in once, and at the same time as its other logins.
func (t Target) VerifyLogin(ctx context.Context, creds Credentials, c Claims, sess Session, rs Results, newSecret, prevSecret string) Results {
	c = c.withDefaults(sess.AccessToken, creds.Username)

	rs = append(rs, signedWithNewSecret(sess.AccessToken, c.Issuer, newSecret, prevSecret))
	if sess.AccessToken == "" {
		rs = append(rs, notRun("me_new_token", http.MethodGet, t.Endpoints.identityPath(), http.StatusOK, "login issued no token"))
	} else {
		rs = append(rs, t.Me(ctx, "me_new_token", sess.AccessToken, creds.Username, http.StatusOK))
	}
	switch {
	case prevSecret == "":
	case sess.AccessToken == "":
		// Without a live session a minted token is refused whatever its key: nothing to prove.
		rs = append(rs, notRun("prev_secret_token_rejected", http.MethodGet, t.Endpoints.identityPath(), http.StatusUnauthorized, "login issued no token"))
	default:
		rs = append(rs, t.mintedRejected(ctx, "prev_secret_token_rejected", prevSecret, newSecret, c))
	}
	rs = append(rs, t.Me(ctx, "no_token_rejected", "", "", http.StatusUnauthorized))

	// Tampering a genuine token proves the signature is checked; a minted one is the fallback.
	genuine := sess.AccessToken
	if genuine == "" {
		genuine, _ = Mint(newSecret, c)
	}
	if genuine == "" {
		rs = append(rs, notRun("tampered_token_rejected", http.MethodGet, t.Endpoints.identityPath(), http.StatusUnauthorized, "no token to tamper"))
	} else {
		rs = append(rs, t.Me(ctx, "tampered_token_rejected", Tamper(genuine), "", http.StatusUnauthorized))
	}
	rs = append(rs, t.Me(ctx, "alg_none_rejected", MintNone(c), "", http.StatusUnauthorized))

	if sess.AccessToken == "" {
		rs = append(rs, notRun("admin_forbidden_for_user", http.MethodGet, t.adminPath(), http.StatusForbidden, "login issued no token"))
	} else {
		rs = append(rs, t.Expect(ctx, "admin_forbidden_for_user", http.MethodGet, t.adminPath(), sess.AccessToken, http.StatusForbidden))
	}
	return scrubAll(rs, creds.Password, newSecret, prevSecret, sess.AccessToken, sess.RefreshToken, sess.Cookie)
}

// VerifySessionCutover checks that a session issued before a cutoff is dead: its access token
// (bearer) 401, its refresh token 401 on /auth/refresh, its cookie 401 on /auth/me. A missing
// part fails its check, since nothing was proven. Check names: old_access_token_rejected,
// old_refresh_token_rejected, old_session_cookie_rejected.
func (t Target) VerifySessionCutover(ctx context.Context, old Session) Results {
	var rs Results
	if old.AccessToken == "" {
		rs = append(rs, notRun("old_access_token_rejected", http.MethodGet, t.Endpoints.identityPath(), http.StatusUnauthorized, "session has no access token"))
	} else {
		rs = append(rs, t.Me(ctx, "old_access_token_rejected", old.AccessToken, "", http.StatusUnauthorized))
	}
	// A kind of credential the backend does not issue (Endpoints None) has nothing to check.
	switch {
	case t.Endpoints.RefreshField == None:
	case old.RefreshToken == "":
		rs = append(rs, notRun("old_refresh_token_rejected", http.MethodPost, t.Endpoints.refreshPath(), http.StatusUnauthorized, "session has no refresh token"))
	default:
		rs = append(rs, t.Refresh(ctx, "old_refresh_token_rejected", old.RefreshToken, http.StatusUnauthorized))
	}
	switch {
	case t.Endpoints.SessionCookie == None:
	case old.Cookie == "":
		rs = append(rs, notRun("old_session_cookie_rejected", http.MethodGet, t.Endpoints.identityPath(), http.StatusUnauthorized, "session has no cookie"))
	default:
		rs = append(rs, t.MeCookie(ctx, "old_session_cookie_rejected", old.Cookie, "", http.StatusUnauthorized))
	}
	return scrubAll(rs, old.AccessToken, old.RefreshToken, old.Cookie)
}

// Baseline checks that login works right now: health 200, login 200, /auth/me 200 with the
// right identity. Check names: health, login, me.
func (t Target) Baseline(ctx context.Context, creds Credentials) Results {
	rs := Results{t.Health(ctx)}
	sess, login := t.Login(ctx, creds)
	rs = append(rs, login)
	if sess.AccessToken == "" {
		rs = append(rs, notRun("me", http.MethodGet, t.Endpoints.identityPath(), http.StatusOK, "login issued no token"))
	} else {
		rs = append(rs, t.Me(ctx, "me", sess.AccessToken, creds.Username, http.StatusOK))
	}
	return scrubAll(rs, creds.Password, sess.AccessToken, sess.RefreshToken, sess.Cookie)
}

// signedWithNewSecret is a local check on the issued token: the target must sign with the new
// secret and no longer with the previous one.
func signedWithNewSecret(token, issuer, newSecret, prevSecret string) Result {
	res := Result{Name: "token_signed_with_new_secret", Path: "/auth/token", At: time.Now().UTC(), OK: true}
	switch {
	case token == "":
		fail(&res, "login issued no token")
	case !VerifiesWith(token, newSecret, ""):
		fail(&res, "token does not verify with new secret")
	case !VerifiesWith(token, newSecret, issuer):
		fail(&res, "token issuer does not match")
	case prevSecret != "" && VerifiesWith(token, prevSecret, ""):
		fail(&res, "token still verifies with previous secret")
	}
	return res
}

// mintedRejected checks that a token signed with secret, otherwise genuine-looking, gets 401.
// When controlSecret is set, the same claims signed with it must then get 200: only then is the
// 401 known to be about the key, not about the claims (a session, subject or role the target
// does not accept).
func (t Target) mintedRejected(ctx context.Context, name, secret, controlSecret string, c Claims) Result {
	tok, err := Mint(secret, c)
	if err != nil {
		return notRun(name, http.MethodGet, t.Endpoints.identityPath(), http.StatusUnauthorized, "could not mint test token")
	}
	res := t.Me(ctx, name, tok, "", http.StatusUnauthorized)
	if !res.OK || controlSecret == "" {
		return res
	}
	ctrl, err := Mint(controlSecret, c)
	if err != nil {
		fail(&res, "inconclusive: could not mint control token")
		return res
	}
	if cr := t.Me(ctx, name+"_control", ctrl, c.Subject, http.StatusOK); !cr.OK {
		fail(&res, "inconclusive: the same claims signed with the new secret were not accepted ("+cr.Detail+
			"), so the 401 may not be about the key")
	}
	return res
}

// notRun is a failed Result for a check whose precondition is missing: an unproven check must
// not read as a pass.
func notRun(name, method, path string, want int, detail string) Result {
	return Result{Name: name, Method: method, Path: path, Expected: want, Detail: detail, At: time.Now().UTC()}
}

// scrubAll is a last line of defence: whatever a target echoed, no Detail leaves the package
// holding one of the values this checklist handled.
func scrubAll(rs Results, secrets ...string) Results {
	for i := range rs {
		rs[i].Detail = scrub(rs[i].Detail, secrets...)
	}
	return rs
}
