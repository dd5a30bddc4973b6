package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	newSecret  = "new-secret-0123456789abcdefghijklmnop"
	prevSecret = "prev-secret-0123456789abcdefghijklmno"
)

var probeCreds = Credentials{Username: "probe", Password: "probe-pass-Zq9"}

func names(rs []Result) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func TestVerifyRotationPasses(t *testing.T) {
	_, target := newFake(t, newSecret)
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	assert.True(t, rs.OK(), "failed: %+v", rs.Failed())
	assert.Equal(t, []string{
		"health", "login", "token_signed_with_new_secret", "me_new_token", "prev_secret_token_rejected",
		"no_token_rejected", "tampered_token_rejected", "alg_none_rejected", "admin_forbidden_for_user",
	}, names(rs))
	for _, r := range rs {
		assert.False(t, r.At.IsZero(), r.Name)
		assert.Equal(t, "UTC", r.At.Location().String(), r.Name)
	}
	assertNoSecrets(t, rs, newSecret, prevSecret, probeCreds.Password)
}

func TestVerifyRotationSkipsPrevWhenEmpty(t *testing.T) {
	_, target := newFake(t, newSecret)
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{}, newSecret, "")
	assert.True(t, rs.OK(), "failed: %+v", rs.Failed())
	assert.NotContains(t, names(rs), "prev_secret_token_rejected")
}

func TestVerifyRotationFailsWhenTargetStillUsesPrevSecret(t *testing.T) {
	_, target := newFake(t, prevSecret)
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	assert.False(t, rs.OK())
	assert.Equal(t, []string{"token_signed_with_new_secret", "prev_secret_token_rejected"}, names(rs.Failed()))
	failed := rs.Failed()
	assert.Equal(t, "token does not verify with new secret", failed[0].Detail)
	assert.Equal(t, http.StatusOK, failed[1].Got)
	assertNoSecrets(t, rs, newSecret, prevSecret, probeCreds.Password)
}

func TestVerifyRotationCatchesInsecureTarget(t *testing.T) {
	f, target := newFake(t, newSecret)
	f.skipSignature = true
	rs := target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	assert.Equal(t, []string{"prev_secret_token_rejected", "tampered_token_rejected", "alg_none_rejected"}, names(rs.Failed()))
}

func TestVerifyRotationAdminUserIsNotForbidden(t *testing.T) {
	_, target := newFake(t, newSecret)
	creds := Credentials{Username: "probe-admin", Password: "admin-pass-Xw2"}
	rs := target.VerifyRotation(context.Background(), creds, Claims{}, newSecret, prevSecret)
	require.Equal(t, []string{"admin_forbidden_for_user"}, names(rs.Failed()))
	assert.Equal(t, "expected 403, got 200", rs.Failed()[0].Detail)
}

func TestVerifyRotationLoginFails(t *testing.T) {
	_, target := newFake(t, newSecret)
	creds := Credentials{Username: "probe", Password: "wrong-password-77"}
	rs := target.VerifyRotation(context.Background(), creds, Claims{Issuer: testIssuer}, newSecret, prevSecret)
	failed := rs.Failed()
	assert.Equal(t, []string{"login", "token_signed_with_new_secret", "me_new_token", "prev_secret_token_rejected", "admin_forbidden_for_user"}, names(failed))
	assert.Equal(t, "expected 200, got 401 (invalid_credentials)", failed[0].Detail)
	// Without a live session nothing can show that the previous key is refused.
	assert.Equal(t, "login issued no token", failed[3].Detail)
	assertNoSecrets(t, rs, newSecret, prevSecret, creds.Password)
}

func TestVerifySessionCutover(t *testing.T) {
	f, target := newFake(t, newSecret)
	old, login := target.Login(context.Background(), probeCreds)
	require.True(t, login.OK, login.Detail)
	require.NotEmpty(t, old.AccessToken)
	require.NotEmpty(t, old.RefreshToken)
	require.NotEmpty(t, old.Cookie)

	// Before the cutover the old session still works, so the check must fail.
	rs := target.VerifySessionCutover(context.Background(), old)
	assert.False(t, rs.OK())
	assert.Equal(t, []string{"old_access_token_rejected", "old_refresh_token_rejected", "old_session_cookie_rejected"}, names(rs.Failed()))
	assertNoSecrets(t, rs, old.AccessToken, old.RefreshToken, old.Cookie)

	f.revokeAll()
	rs = target.VerifySessionCutover(context.Background(), old)
	assert.True(t, rs.OK(), "failed: %+v", rs.Failed())
	assert.Len(t, rs, 3)

	// A fresh login still works after the cutover.
	assert.True(t, target.Baseline(context.Background(), probeCreds).OK())
}

func TestVerifySessionCutoverEmptySessionFails(t *testing.T) {
	_, target := newFake(t, newSecret)
	rs := target.VerifySessionCutover(context.Background(), Session{})
	assert.Len(t, rs.Failed(), 3)
}

func TestBaseline(t *testing.T) {
	_, target := newFake(t, newSecret)
	rs := target.Baseline(context.Background(), probeCreds)
	assert.True(t, rs.OK(), "failed: %+v", rs.Failed())
	assert.Equal(t, []string{"health", "login", "me"}, names(rs))

	rs = target.Baseline(context.Background(), Credentials{Username: "nobody", Password: "x-pass"})
	assert.Equal(t, []string{"login", "me"}, names(rs.Failed()))
}

func TestMeIdentityMismatch(t *testing.T) {
	_, target := newFake(t, newSecret)
	sess, _ := target.Login(context.Background(), probeCreds)
	r := target.Me(context.Background(), "me", sess.AccessToken, "someone-else", http.StatusOK)
	assert.False(t, r.OK)
	assert.Equal(t, `identity mismatch: got "probe"`, r.Detail)

	r = target.MeCookie(context.Background(), "me_cookie", sess.Cookie, "probe", http.StatusOK)
	assert.True(t, r.OK, r.Detail)
	r = target.Refresh(context.Background(), "refresh", sess.RefreshToken, http.StatusOK)
	assert.True(t, r.OK, r.Detail)
	r = target.Expect(context.Background(), "admin_no_token", http.MethodGet, "/admin/users", "", http.StatusUnauthorized)
	assert.True(t, r.OK, r.Detail)
}

func TestUnreachableTarget(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	r := Target{BaseURL: srv.URL}.Health(context.Background())
	assert.False(t, r.OK)
	assert.Equal(t, 0, r.Got)
	assert.True(t, strings.HasPrefix(r.Detail, "request failed: "), r.Detail)
}

// TestResultsNeverHoldSecrets covers a target that echoes what it receives: the Detail of every
// Result must still be free of the tokens, secrets and password the probe handled.
func TestResultsNeverHoldSecrets(t *testing.T) {
	var echoed []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		var parts []string
		for _, v := range body {
			parts = append(parts, v)
		}
		parts = append(parts, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if ck, err := r.Cookie("session"); err == nil {
			parts = append(parts, ck.Value)
		}
		msg := strings.Join(parts, " ")
		echoed = append(echoed, msg)
		writeJSON(w, http.StatusTeapot, map[string]string{"error": msg})
	}))
	defer srv.Close()
	target := Target{BaseURL: srv.URL}
	old := Session{AccessToken: "old-access-token-abc", RefreshToken: "old-refresh-token-def", Cookie: "old-cookie-ghi"}

	var all Results
	all = append(all, target.VerifyRotation(context.Background(), probeCreds, Claims{Issuer: testIssuer, Role: "user"}, newSecret, prevSecret)...)
	all = append(all, target.VerifySessionCutover(context.Background(), old)...)
	all = append(all, target.Baseline(context.Background(), probeCreds)...)
	require.NotEmpty(t, echoed)
	assertNoSecrets(t, all, newSecret, prevSecret, probeCreds.Password, old.AccessToken, old.RefreshToken, old.Cookie)
}

func assertNoSecrets(t *testing.T, rs Results, secrets ...string) {
	t.Helper()
	data, err := json.Marshal(rs)
	require.NoError(t, err)
	s := string(data)
	for _, sec := range secrets {
		assert.NotContains(t, s, sec)
	}
	// Every JWT starts with base64url of `{"`.
	assert.NotContains(t, s, "eyJ")
}

// The target's configured timeout bounds each probe request of the default client.
func TestTargetTimeoutFromConfig(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	short := Target{BaseURL: slow.URL, Timeout: 50 * time.Millisecond}
	if r := short.Health(context.Background()); r.OK {
		t.Fatalf("a 50ms timeout let a 300ms answer through: %+v", r)
	}
	long := Target{BaseURL: slow.URL, Timeout: 2 * time.Second}
	if r := long.Health(context.Background()); !r.OK {
		t.Fatalf("a 2s timeout refused a 300ms answer: %+v", r)
	}
}
