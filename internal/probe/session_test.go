package probe

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unverifiedClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(tok, c)
	require.NoError(t, err)
	return c
}

func TestMintUsesSessionID(t *testing.T) {
	c := Claims{Issuer: testIssuer, Subject: "probe", Role: "user", SessionID: "sid-live-7"}
	tok, err := Mint(newSecret, c)
	require.NoError(t, err)
	assert.Equal(t, "sid-live-7", unverifiedClaims(t, tok)["sid"])
	assert.Equal(t, "sid-live-7", unverifiedClaims(t, MintNone(c))["sid"])

	// Without one the sid stays random and marked as the probe's.
	tok, err = Mint(newSecret, Claims{Issuer: testIssuer, Subject: "probe"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(unverifiedClaims(t, tok)["sid"].(string), "probe-"))
}

func TestWithDefaultsTakesTheIssuedSession(t *testing.T) {
	issued, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": testIssuer, "sub": "probe", "role": "user", "sid": "sid-issued", "typ": "access",
		"exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte("a-key-the-probe-does-not-need-to-know"))
	require.NoError(t, err)

	got := Claims{}.withDefaults(issued, "probe")
	assert.Equal(t, Claims{Issuer: testIssuer, Subject: "probe", Role: "user", SessionID: "sid-issued"}, got)

	// Set fields are kept; without an issued token there is no session to reuse.
	got = Claims{Issuer: "cfg-issuer", SessionID: "sid-given"}.withDefaults(issued, "probe")
	assert.Equal(t, "cfg-issuer", got.Issuer)
	assert.Equal(t, "sid-given", got.SessionID)
	assert.Equal(t, Claims{Subject: "probe"}, Claims{}.withDefaults("", "probe"))
}

// TestVerifyRotationRefusalsAreAboutTheKey: against a target that enforces sessions, every 401
// the checklist provokes must be for the key or the alg (or no token), never for an unknown
// session: minted and tampered tokens name the probe's own live session.
func TestVerifyRotationRefusalsAreAboutTheKey(t *testing.T) {
	f, target := newFake(t, newSecret)
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	require.True(t, rs.OK(), "failed: %+v", rs.Failed())
	assert.Equal(t, []string{
		"signature_invalid", // prev_secret_token_rejected
		"token_missing",     // no_token_rejected
		"signature_invalid", // tampered_token_rejected
		"signature_invalid", // alg_none_rejected
	}, f.refusals())
	assert.Len(t, f.liveSessions(), 1, "one login, one session, reused by every minted token")
}

// TestVerifyRotationFailsWhenTargetAlsoAcceptsPrevSecret: the target signs with the new secret
// but still accepts the previous one. token_signed_with_new_secret passes, so only the minted
// prev-secret token can tell; with a made-up sid it would be refused as an unknown session and
// the check would wrongly pass.
func TestVerifyRotationFailsWhenTargetAlsoAcceptsPrevSecret(t *testing.T) {
	f, target := newFake(t, newSecret)
	f.alsoAccept = []string{prevSecret}
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	failed := rs.Failed()
	require.Equal(t, []string{"prev_secret_token_rejected"}, names(failed))
	assert.Equal(t, http.StatusOK, failed[0].Got)
	assert.Equal(t, "expected 401, got 200", failed[0].Detail)
	assertNoSecrets(t, rs, newSecret, prevSecret, probeCreds.Password)
}

// TestVerifyRotationPrevSecretInconclusive: when the minted claims are refused whatever the key
// (here a configured role that is not the probe user's), the prev-secret 401 proves nothing and
// the check must not pass.
func TestVerifyRotationPrevSecretInconclusive(t *testing.T) {
	f, target := newFake(t, newSecret)
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer, Role: "admin"}, newSecret, prevSecret)
	failed := rs.Failed()
	require.Equal(t, []string{"prev_secret_token_rejected"}, names(failed))
	assert.Equal(t, http.StatusUnauthorized, failed[0].Got)
	assert.Contains(t, failed[0].Detail, "inconclusive")
	assert.Contains(t, failed[0].Detail, "role_mismatch")
	assert.Contains(t, f.refusals(), "role_mismatch")
	assertNoSecrets(t, rs, newSecret, prevSecret, probeCreds.Password)
}

// TestVerifyRotationAfterCutover: an earlier session revoked by an emergency cutover does not
// matter; the checklist runs on its own fresh login.
func TestVerifyRotationAfterCutover(t *testing.T) {
	f, target := newFake(t, newSecret)
	_, login := target.Login(context.Background(), probeCreds)
	require.True(t, login.OK, login.Detail)
	f.revokeAll()
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	assert.True(t, rs.OK(), "failed: %+v", rs.Failed())
}

// TestFakeEnforcesSessions keeps the fake honest: it refuses validly signed tokens that do not
// match a live session of their subject, like the real backend.
func TestFakeEnforcesSessions(t *testing.T) {
	f, target := newFake(t, newSecret)
	ctx := context.Background()
	sess, login := target.Login(ctx, probeCreds)
	require.True(t, login.OK, login.Detail)
	sid := unverifiedClaims(t, sess.AccessToken)["sid"].(string)
	adminSess, login := target.Login(ctx, Credentials{Username: "probe-admin", Password: "admin-pass-Xw2"})
	require.True(t, login.OK, login.Detail)
	adminSID := unverifiedClaims(t, adminSess.AccessToken)["sid"].(string)

	mint := func(c Claims) string {
		c.Issuer = testIssuer
		tok, err := Mint(newSecret, c)
		require.NoError(t, err)
		return tok
	}
	for _, tc := range []struct {
		name   string
		claims Claims
		reason string
	}{
		{"unknown sid", Claims{Subject: "probe", Role: "user"}, "unknown_session"},
		{"another user's sid", Claims{Subject: "probe-admin", Role: "admin", SessionID: sid}, "session_user_mismatch"},
		{"role escalated", Claims{Subject: "probe", Role: "admin", SessionID: sid}, "role_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(tc.claims)
			assert.True(t, target.Me(ctx, "me", tok, "", http.StatusUnauthorized).OK)
			assert.True(t, target.Expect(ctx, "admin", http.MethodGet, "/admin/users", tok, http.StatusUnauthorized).OK)
			assert.Equal(t, tc.reason, f.refusals()[len(f.refusals())-1])
		})
	}
	assert.True(t, target.Me(ctx, "me", mint(Claims{Subject: "probe", Role: "user", SessionID: sid}), "probe", http.StatusOK).OK)
	assert.True(t, target.Expect(ctx, "admin", http.MethodGet, "/admin/users",
		mint(Claims{Subject: "probe-admin", Role: "admin", SessionID: adminSID}), http.StatusOK).OK)

	f.revokeAll()
	assert.True(t, target.Me(ctx, "me", mint(Claims{Subject: "probe", Role: "user", SessionID: sid}), "", http.StatusUnauthorized).OK)
	assert.Equal(t, "session_revoked", f.refusals()[len(f.refusals())-1])
}
