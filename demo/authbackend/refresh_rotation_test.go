package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// refresh posts a refresh token to /auth/refresh.
func (f *fixture) refresh(token string) response {
	f.t.Helper()
	return f.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": token}})
}

// refreshOK refreshes and requires a 200.
func (f *fixture) refreshOK(token string) issued {
	f.t.Helper()
	r := f.refresh(token)
	require.Equal(f.t, http.StatusOK, r.status, string(r.body))
	return decodeIssued(f.t, r)
}

// requireRefused asserts that a refresh with token answers 401 with code and
// hands out nothing.
func requireRefused(t *testing.T, f *fixture, token, code string) {
	t.Helper()
	r := f.refresh(token)
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	require.Equal(t, code, r.errorCode(t))
	require.Empty(t, r.header.Values("Set-Cookie"), "a refused refresh issues nothing")
}

// requireSessionDead asserts that every token of a session is refused:
// each refresh token on /auth/refresh, each access token as bearer, each
// cookie on /auth/me.
func requireSessionDead(t *testing.T, f *fixture, tokens ...issued) {
	t.Helper()
	for _, tok := range tokens {
		requireRefused(t, f, tok.RefreshToken, "session_revoked")
		status, code := f.me(tok.AccessToken)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "session_revoked", code)
		r := f.do(request{method: http.MethodGet, path: "/auth/me", cookie: tok.cookie.Value})
		require.Equal(t, http.StatusUnauthorized, r.status, "cookie: %s", r.body)
		require.Equal(t, "session_revoked", r.errorCode(t))
	}
}

// TestRefreshChain: a client that always uses the refresh token it got last
// can refresh again and again; each refresh hands out a new refresh token of
// the same session, and everything handed out works.
func TestRefreshChain(t *testing.T) {
	tests := []struct {
		name       string
		step       time.Duration // clock advance before each refresh
		memoryOnly bool
	}{
		{name: "a minute apart", step: time.Minute},
		// Same iat and exp as the token it replaces: the jti keeps them apart.
		{name: "same second", step: 0},
		{name: "memory-only state", step: time.Minute, memoryOnly: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *serverConfig) {
				if tc.memoryOnly {
					c.stateFile = ""
				}
			})
			chain := []issued{f.login("bob")}
			sid := sidOf(t, chain[0].AccessToken)
			seen := map[string]bool{chain[0].RefreshToken: true}
			for range 3 {
				f.clock.Advance(tc.step)
				next := f.refreshOK(chain[len(chain)-1].RefreshToken)
				require.False(t, seen[next.RefreshToken], "every refresh hands out a new refresh token")
				seen[next.RefreshToken] = true
				claims := parseIssued(t, next.RefreshToken)
				require.Equal(t, "refresh", claims["typ"])
				require.NotEmpty(t, claims["jti"])
				for _, tok := range []string{next.RefreshToken, next.AccessToken, next.cookie.Value} {
					require.Equal(t, sid, sidOf(t, tok), "refresh keeps the session")
				}
				// The session's end does not move: exp stays the login's.
				require.Equal(t, parseIssued(t, chain[0].RefreshToken)["exp"], claims["exp"])
				chain = append(chain, next)
			}
			// Rotation spends refresh tokens only: the access tokens and
			// cookies handed out along the way live until they expire.
			for _, tok := range chain {
				status, _ := f.me(tok.AccessToken)
				require.Equal(t, http.StatusOK, status)
				r := f.do(request{method: http.MethodGet, path: "/auth/me", cookie: tok.cookie.Value})
				require.Equal(t, http.StatusOK, r.status, string(r.body))
			}
			state := f.state()
			require.EqualValues(t, 1, state["active_sessions"])
			require.EqualValues(t, 0, state["revoked_sessions"])
		})
	}
}

// TestRefreshTokenReuse: presenting a refresh token that was rotated away
// is refused and ends the whole session; presenting the current one is a
// normal refresh.
func TestRefreshTokenReuse(t *testing.T) {
	tests := []struct {
		name      string
		refreshes int // how many times the chain is refreshed first
		replay    int // index in the chain of the token presented then; 0 is the login's
		reused    bool
	}{
		{name: "login token after one refresh", refreshes: 1, replay: 0, reused: true},
		{name: "login token after three refreshes", refreshes: 3, replay: 0, reused: true},
		{name: "middle token after three refreshes", refreshes: 3, replay: 2, reused: true},
		{name: "current token after three refreshes", refreshes: 3, replay: 3, reused: false},
		{name: "login token, never refreshed", refreshes: 0, replay: 0, reused: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			other := f.login("bob") // a second session of the same user
			chain := []issued{f.login("bob")}
			for range tc.refreshes {
				f.clock.Advance(time.Minute)
				chain = append(chain, f.refreshOK(chain[len(chain)-1].RefreshToken))
			}

			r := f.refresh(chain[tc.replay].RefreshToken)
			if !tc.reused {
				require.Equal(t, http.StatusOK, r.status, string(r.body))
				return
			}
			require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
			require.Equal(t, reasonRefreshReused, r.errorCode(t))
			require.Empty(t, r.header.Values("Set-Cookie"))
			requireDecision(t, f, "/auth/refresh", http.StatusUnauthorized, reasonRefreshReused)

			// Every token of the session is dead now, the newest refresh
			// token included; presenting the replayed one again is just a
			// revoked session.
			requireSessionDead(t, f, chain...)
			require.EqualValues(t, 1, f.state()["revoked_sessions"])

			// Other sessions, even of the same user, are not touched, and
			// the user can log in again.
			status, _ := f.me(other.AccessToken)
			require.Equal(t, http.StatusOK, status)
			f.refreshOK(other.RefreshToken)
			status, _ = f.me(f.login("bob").AccessToken)
			require.Equal(t, http.StatusOK, status)
		})
	}
}

// TestRefreshReuseScenario is the case step by step, with the log
// checked for the security event and for token values.
func TestRefreshReuseScenario(t *testing.T) {
	f := newFixture(t)
	first := f.login("bob")
	sid := sidOf(t, first.AccessToken)
	f.clock.Advance(time.Minute)

	next := f.refreshOK(first.RefreshToken)
	require.NotEqual(t, first.RefreshToken, next.RefreshToken)

	// The old token is refused, and that ends the session: the new refresh
	// token, the access tokens and the cookies stop working too.
	requireRefused(t, f, first.RefreshToken, reasonRefreshReused)
	requireSessionDead(t, f, first, next)
	requireRefused(t, f, first.RefreshToken, "session_revoked")

	// The operator's restore does not bring a session back that ended
	// because its refresh chain was stolen.
	f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "bob"})
	f.controlOK(http.MethodPost, "/_control/sessions/restore", map[string]string{"username": ""})
	requireSessionDead(t, f, next)

	logs := f.logs.String()
	var events []map[string]any
	for line := range strings.Lines(logs) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == "security_event" {
			events = append(events, rec)
		}
	}
	require.Len(t, events, 1, "one security event per detected reuse")
	require.Equal(t, "ERROR", events[0]["level"])
	delete(events[0], "time")
	require.Equal(t, map[string]any{
		"level": "ERROR", "msg": "security_event", "event": "refresh_token_reused", "route": "/auth/refresh",
		"user": "bob", "session_revoked": true, "remote": events[0]["remote"],
	}, events[0])
	requireDecision(t, f, "/auth/refresh", http.StatusUnauthorized, reasonRefreshReused)

	// No token, no part of one, and not the sid is in the log.
	require.NotContains(t, logs, sid)
	for _, tok := range []issued{first, next} {
		for _, raw := range []string{tok.RefreshToken, tok.AccessToken, tok.cookie.Value} {
			require.NotContains(t, logs, raw)
			parts := strings.Split(raw, ".")
			require.NotContains(t, logs, parts[1])
			require.NotContains(t, logs, parts[2])
		}
	}
}

// TestRefreshRace: requests racing with the same refresh token. The store
// checks and swaps the current token in one locked step, so exactly one
// wins; the next one to reach the store presents a token that is no longer
// current, which is a reuse: the session ends, the winner's new tokens with
// it. A client must not refresh twice in parallel with one token (there is
// no grace window: a racing duplicate looks exactly like a replayed one).
// Any later loser finds the session revoked.
func TestRefreshRace(t *testing.T) {
	for _, racers := range []int{2, 8} {
		for round := range 5 {
			f := newFixture(t)
			login := f.login("bob")
			body, err := json.Marshal(map[string]string{"refresh_token": login.RefreshToken})
			require.NoError(t, err)

			type result struct {
				status int
				body   []byte
				err    error
			}
			results := make([]result, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					resp, err := f.ts.Client().Post(f.ts.URL+"/auth/refresh", "application/json", bytes.NewReader(body))
					if err != nil {
						results[i].err = err
						return
					}
					defer resp.Body.Close()
					var buf bytes.Buffer
					_, results[i].err = buf.ReadFrom(resp.Body)
					results[i].status, results[i].body = resp.StatusCode, buf.Bytes()
				})
			}
			close(start)
			wg.Wait()

			var winner *tokenResponse
			codes := map[string]int{}
			for _, res := range results {
				require.NoError(t, res.err)
				if res.status == http.StatusOK {
					require.Nil(t, winner, "round %d/%d: two refreshes won", racers, round)
					winner = &tokenResponse{}
					require.NoError(t, json.Unmarshal(res.body, winner))
					continue
				}
				require.Equal(t, http.StatusUnauthorized, res.status, string(res.body))
				var e map[string]string
				require.NoError(t, json.Unmarshal(res.body, &e))
				codes[e["error"]]++
			}
			require.NotNil(t, winner, "round %d/%d: one refresh wins", racers, round)
			require.Equal(t, 1, codes[reasonRefreshReused], "round %d/%d: %v", racers, round, codes)
			require.Equal(t, racers-2, codes["session_revoked"], "round %d/%d: %v", racers, round, codes)

			requireRefused(t, f, winner.RefreshToken, "session_revoked")
			for _, tok := range []string{winner.AccessToken, login.AccessToken} {
				status, code := f.me(tok)
				require.Equal(t, http.StatusUnauthorized, status)
				require.Equal(t, "session_revoked", code)
			}
		}
	}
}

// TestRefreshRotationPersists: the state file keeps the current refresh
// token as a SHA-256 hash, never the token, and rotation and reuse detection
// carry over a restart.
func TestRefreshRotationPersists(t *testing.T) {
	f := newFixture(t)
	first := f.login("bob")
	sid := sidOf(t, first.AccessToken)
	f.clock.Advance(time.Minute)
	next := f.refreshOK(first.RefreshToken)

	readState := func() (string, controlState) {
		t.Helper()
		data, err := os.ReadFile(f.cfg.stateFile)
		require.NoError(t, err)
		var st controlState
		require.NoError(t, json.Unmarshal(data, &st))
		return string(data), st
	}
	raw, st := readState()
	require.Equal(t, tokenHash(next.RefreshToken), st.Sessions[sid].RefreshHash)
	require.Len(t, st.Sessions[sid].RefreshHash, 64, "hex SHA-256")
	for _, tok := range []string{first.RefreshToken, next.RefreshToken} {
		require.NotContains(t, raw, tok)
		require.NotContains(t, raw, strings.Split(tok, ".")[2])
	}

	f.restart()
	f.clock.Advance(time.Minute)
	third := f.refreshOK(next.RefreshToken)
	f.restart()
	requireRefused(t, f, next.RefreshToken, reasonRefreshReused)
	f.restart()
	requireSessionDead(t, f, third)
	_, st = readState()
	require.Equal(t, reasonRefreshReused, st.Sessions[sid].RevokedReason)
}

// TestRefreshLegacySessionStartsChain: a session from a state file written
// before rotation has no refresh hash; its refresh token is accepted once
// and from then on the chain is enforced.
func TestRefreshLegacySessionStartsChain(t *testing.T) {
	f := newFixture(t)
	legacy := f.login("bob")
	sid := sidOf(t, legacy.AccessToken)
	require.NoError(t, f.srv.store.update(f.clock.Now(), func(st *controlState) error {
		s := st.Sessions[sid]
		s.RefreshHash = ""
		st.Sessions[sid] = s
		return nil
	}))
	f.restart()

	next := f.refreshOK(legacy.RefreshToken)
	requireRefused(t, f, legacy.RefreshToken, reasonRefreshReused)
	requireSessionDead(t, f, next)
}

func TestControlStateRotateRefresh(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	live := session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RefreshHash: "current"}
	revokedAt := now.Add(-time.Minute)

	tests := []struct {
		name      string
		sess      *session // nil: no session
		username  string
		presented string
		want      string
		after     session // the session afterwards; zero: unchanged
	}{
		{name: "current token rotates", sess: &live, username: "bob", presented: "current", want: "",
			after: session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RefreshHash: "next"}},
		{name: "other token is reuse and revokes", sess: &live, username: "bob", presented: "old", want: reasonRefreshReused,
			after: session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RefreshHash: "current",
				RevokedAt: &now, RevokedReason: reasonRefreshReused}},
		{name: "legacy session accepts once", sess: &session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			username: "bob", presented: "whatever", want: "",
			after: session{Username: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RefreshHash: "next"}},
		{name: "unknown session", username: "bob", presented: "current", want: "unknown_session"},
		{name: "other user's session", sess: &live, username: "carol", presented: "current", want: "session_user_mismatch"},
		{name: "revoked session, current token", sess: &session{Username: "bob", ExpiresAt: now.Add(time.Hour),
			RefreshHash: "current", RevokedAt: &revokedAt}, username: "bob", presented: "current", want: "session_revoked"},
		{name: "revoked session, old token", sess: &session{Username: "bob", ExpiresAt: now.Add(time.Hour),
			RefreshHash: "current", RevokedAt: &revokedAt}, username: "bob", presented: "old", want: "session_revoked"},
		{name: "expired session", sess: &session{Username: "bob", ExpiresAt: now.Add(-time.Second), RefreshHash: "current"},
			username: "bob", presented: "current", want: "session_expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newControlState()
			if tc.sess != nil {
				st.Sessions["s1"] = *tc.sess
			}
			before := st.clone()
			require.Equal(t, tc.want, st.rotateRefresh("s1", tc.username, now, now, tc.presented, "next"))
			if tc.after.Username == "" {
				require.Equal(t, before, st, "nothing changes")
				return
			}
			require.Equal(t, tc.after, st.Sessions["s1"])
		})
	}

	// restore leaves a session revoked for reuse alone.
	st := newControlState()
	st.Sessions["reused"] = session{Username: "bob", ExpiresAt: now.Add(time.Hour), RevokedAt: &now, RevokedReason: reasonRefreshReused}
	st.Sessions["revoked"] = session{Username: "bob", ExpiresAt: now.Add(time.Hour), RevokedAt: &now}
	require.Equal(t, 1, st.restoreSessions(""))
	require.NotNil(t, st.Sessions["reused"].RevokedAt)
	require.Nil(t, st.Sessions["revoked"].RevokedAt)
}

// TestRefreshFailedSaveChangesNothing: when the rotation cannot be saved the
// refresh answers 500 and nothing rotates, so the client can retry with the
// same token; a reuse whose revocation cannot be saved is logged, answers
// 500 and leaves the session as it was.
func TestRefreshFailedSaveChangesNothing(t *testing.T) {
	f := newFixture(t)
	first := f.login("bob")
	next := f.refreshOK(first.RefreshToken)
	// A directory where the file should be makes the rename fail.
	require.NoError(t, os.Remove(f.cfg.stateFile))
	require.NoError(t, os.Mkdir(f.cfg.stateFile, 0o700))

	r := f.refresh(next.RefreshToken)
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.body))
	require.Equal(t, "internal_error", r.errorCode(t))
	r = f.refresh(first.RefreshToken)
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.body))
	require.Contains(t, f.logs.String(), `"msg":"security_event","event":"refresh_token_reused","route":"/auth/refresh","user":"bob","session_revoked":false`)

	require.NoError(t, os.Remove(f.cfg.stateFile))
	f.refreshOK(next.RefreshToken)
}
