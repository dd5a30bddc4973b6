package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStateSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.login("alice"), f.login("bob")
	f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "bob"})
	f.controlOK(http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"carol"}, "required": true})
	f.controlOK(http.MethodPut, "/_control/log-level", map[string]string{"level": "warn"})
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin"}, "status": 503})
	f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/8"}})
	before := f.state()

	f.cfg.logLevel.Set(slog.LevelInfo) // a fresh process starts at info
	f.restart()

	require.Equal(t, before, f.state())
	require.Equal(t, slog.LevelWarn, f.cfg.logLevel.Level(), "the persisted level is applied")
	status, code := f.me(bob.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "session_revoked", code)
	status, _ = f.me(alice.AccessToken)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusServiceUnavailable,
		f.do(request{method: http.MethodGet, path: "/admin/users", bearer: alice.AccessToken}).status)
	require.Equal(t, http.StatusForbidden, f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": "carol", "password": passwordOf(t, "carol")}}).status)
}

func TestRevokeAllSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	old := f.login("bob")
	f.clock.Advance(time.Second)
	cutoff := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})["cutoff"]
	f.restart()

	require.Equal(t, cutoff, f.state()["revoked_before"])
	status, _ := f.me(old.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = f.me(f.login("bob").AccessToken)
	require.Equal(t, http.StatusOK, status)
}

func TestSecretRotationInvalidatesOldTokens(t *testing.T) {
	f := newFixture(t)
	old := f.login("bob")
	f.cfg.secret = []byte("a-brand-new-secret-after-rotation-0123456789")
	f.restart()
	status, code := f.me(old.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "signature_invalid", code)
	status, _ = f.me(f.login("bob").AccessToken)
	require.Equal(t, http.StatusOK, status)
}

func TestStateFileIsPrivateAndComplete(t *testing.T) {
	f := newFixture(t)
	f.login("bob")
	f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/8"}})

	info, err := os.Stat(f.cfg.stateFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(f.cfg.stateFile))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp files left behind")

	var st controlState
	data, err := os.ReadFile(f.cfg.stateFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &st))
	require.Len(t, st.Sessions, 1)
	require.Equal(t, []string{"10.0.0.0/8"}, st.DeniedCIDRs)
	for _, s := range st.Sessions {
		require.Equal(t, "bob", s.Username)
	}
	require.NotContains(t, string(data), testSecret)
	require.NotContains(t, string(data), passwordOf(t, "bob"))
}

func TestFailedSaveChangesNothing(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	before := f.state()
	// A directory where the file should be makes the rename fail.
	require.NoError(t, os.Remove(f.cfg.stateFile))
	require.NoError(t, os.Mkdir(f.cfg.stateFile, 0o700))

	r := f.control(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, before, f.state())
	status, _ := f.me(bob.AccessToken)
	require.Equal(t, http.StatusOK, status, "the revoke did not take effect in memory either")

	r = f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": "bob", "password": passwordOf(t, "bob")}})
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, "internal_error", r.errorCode(t))
}

func TestOpenStateStore(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(t *testing.T, content string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "state.json")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	t.Run("missing file starts empty", func(t *testing.T) {
		s, err := openStateStore(filepath.Join(t.TempDir(), "state.json"), now)
		require.NoError(t, err)
		s.view(func(st *controlState, _ []netip.Prefix) { require.Equal(t, newControlState(), *st) })
	})
	t.Run("memory only", func(t *testing.T) {
		s, err := openStateStore("", now)
		require.NoError(t, err)
		require.NoError(t, s.update(now, func(st *controlState) error { st.LogLevel = "debug"; return nil }))
	})
	t.Run("nulls are normalised", func(t *testing.T) {
		s, err := openStateStore(write(t, `{"revoked_before":null}`), now)
		require.NoError(t, err)
		s.view(func(st *controlState, _ []netip.Prefix) { require.Equal(t, newControlState(), *st) })
	})
	t.Run("expired sessions are pruned", func(t *testing.T) {
		s, err := openStateStore(write(t, `{"sessions":{
			"old":{"username":"bob","created_at":"2029-12-30T00:00:00Z","expires_at":"2029-12-31T00:00:00Z"},
			"new":{"username":"bob","created_at":"2029-12-31T12:00:00Z","expires_at":"2030-01-01T12:00:00Z"}}}`), now)
		require.NoError(t, err)
		s.view(func(st *controlState, _ []netip.Prefix) {
			require.Contains(t, st.Sessions, "new")
			require.NotContains(t, st.Sessions, "old")
		})
	})
	for name, content := range map[string]string{
		"corrupt JSON":  `{"sessions":`,
		"bad CIDR":      `{"denied_cidrs":["10.0.0.0/33"]}`,
		"bad level":     `{"log_level":"loud"}`,
		"bad status":    `{"restricted_routes":[{"prefix":"/admin","status":200}]}`,
		"bad prefix":    `{"restricted_routes":[{"prefix":"admin","status":503}]}`,
		"wrong JSON ty": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := openStateStore(write(t, content), now)
			require.Error(t, err)
		})
	}
}

func TestControlStateRevocationRules(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	st := newControlState()
	st.Sessions["a"] = session{Username: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	st.Sessions["b1"] = session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	st.Sessions["b2"] = session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}

	require.Equal(t, 2, st.revokeSessions("bob", now))
	require.Equal(t, 0, st.revokeSessions("bob", now), "already revoked")
	active, revoked := st.sessionCounts(now)
	require.Equal(t, []int{1, 2}, []int{active, revoked})

	st.PasswordReset = []string{"bob"}
	require.Equal(t, 0, st.restoreSessions(""), "reset users stay revoked")
	st.PasswordReset = nil
	require.Equal(t, 2, st.restoreSessions("bob"))

	st.prune(now.Add(2 * time.Hour))
	require.Empty(t, st.Sessions)

	// clone is deep: changing the copy leaves the original alone.
	orig := newControlState()
	orig.Sessions["x"] = session{Username: "alice"}
	c := orig.clone()
	c.Sessions["y"] = session{}
	c.DeniedCIDRs = append(c.DeniedCIDRs, "10.0.0.0/8")
	require.Len(t, orig.Sessions, 1)
	require.Empty(t, orig.DeniedCIDRs)
}
