package probe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testIssuer = "authbackend-demo"

// fakeBackend imitates the demo backend's contract (docs/contracts.md) closely enough for the
// probes: HS256 tokens with iss/sub/role/sid/iat/exp/typ, /auth/token, /auth/refresh, /auth/me
// (bearer or session cookie), /admin/users and /healthz. Like the real backend it only accepts a
// token whose sid names a live (not revoked) session of the token's subject and whose role is
// the user's role, and it authorizes with the user's role, not the claim.
type fakeBackend struct {
	mu       sync.Mutex
	secret   string
	users    map[string][2]string   // username -> password, role
	sessions map[string]fakeSession // sid -> session
	nextSID  int
	// skipSignature makes the fake insecure: it accepts any token it can decode.
	skipSignature bool
	// alsoAccept makes the fake insecure in another way: it still accepts tokens signed with
	// these secrets, as a target that kept the previous key as a fallback would.
	alsoAccept []string
	// refused records the reason of every refused token, in order.
	refused []string
}

// fakeSession is one login.
type fakeSession struct {
	user    string
	revoked bool
}

func newFake(t *testing.T, secret string) (*fakeBackend, Target) {
	t.Helper()
	f := &fakeBackend{
		secret:   secret,
		users:    map[string][2]string{"probe": {"probe-pass-Zq9", "user"}, "probe-admin": {"admin-pass-Xw2", "admin"}},
		sessions: map[string]fakeSession{},
	}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, Target{BaseURL: srv.URL}
}

// revokeAll is the emergency cutover: every session issued so far is dead.
func (f *fakeBackend) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sid, s := range f.sessions {
		s.revoked = true
		f.sessions[sid] = s
	}
}

// liveSessions returns the sids of the sessions that are not revoked.
func (f *fakeBackend) liveSessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sids []string
	for sid, s := range f.sessions {
		if !s.revoked {
			sids = append(sids, sid)
		}
	}
	return sids
}

func (f *fakeBackend) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed"})
			return
		}
		u, ok := f.users[in.Username]
		if !ok || u[0] != in.Password {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
			return
		}
		f.issue(w, in.Username, u[1], "", true)
	})
	mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			RefreshToken string `json:"refresh_token"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed"})
			return
		}
		a, reason := f.validate(in.RefreshToken, "refresh")
		if reason != "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": reason})
			return
		}
		f.issue(w, a.user, a.role, a.sid, false)
	})
	mux.HandleFunc("GET /auth/me", func(w http.ResponseWriter, r *http.Request) {
		a, reason := f.authenticate(r)
		if reason != "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"username": a.user, "role": a.role})
	})
	mux.HandleFunc("GET /admin/users", func(w http.ResponseWriter, r *http.Request) {
		a, reason := f.authenticate(r)
		switch {
		case reason != "":
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": reason})
		case a.role != "admin":
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
		default:
			writeJSON(w, http.StatusOK, []string{"probe", "probe-admin"})
		}
	})
	return mux
}

func (f *fakeBackend) issue(w http.ResponseWriter, sub, role, sid string, withRefresh bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sid == "" { // a login starts a new session
		sid = fmt.Sprintf("sid-%d", f.nextSID)
		f.nextSID++
		f.sessions[sid] = fakeSession{user: sub}
	}
	sign := func(typ string) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": testIssuer, "sub": sub, "role": role, "sid": sid, "typ": typ,
			"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		}).SignedString([]byte(f.secret))
		if err != nil {
			panic(err)
		}
		return tok
	}
	out := map[string]any{"access_token": sign("access"), "token_type": "Bearer", "expires_in": 900}
	if withRefresh {
		out["refresh_token"] = sign("refresh")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: sign("session"), HttpOnly: true, Path: "/", SameSite: http.SameSiteLaxMode})
	}
	writeJSON(w, http.StatusOK, out)
}

// authenticated is who a valid token speaks for.
type authenticated struct{ user, role, sid string }

func (f *fakeBackend) authenticate(r *http.Request) (authenticated, string) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return f.validate(strings.TrimPrefix(h, "Bearer "), "access")
	}
	if ck, err := r.Cookie("session"); err == nil {
		return f.validate(ck.Value, "session")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, "token_missing")
	return authenticated{}, "token_missing"
}

// refusals returns the reasons recorded so far.
func (f *fakeBackend) refusals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refused...)
}

// validate returns who the token speaks for, or the reason it is refused.
func (f *fakeBackend) validate(tok, typ string) (authenticated, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, reason := f.check(tok, typ)
	if reason != "" {
		f.refused = append(f.refused, reason)
	}
	return a, reason
}

// check is validate without the bookkeeping; f.mu is held.
func (f *fakeBackend) check(tok, typ string) (authenticated, string) {
	c := jwt.MapClaims{}
	if f.skipSignature {
		if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
			return authenticated{}, "token_malformed"
		}
	} else {
		verified := false
		for _, secret := range append([]string{f.secret}, f.alsoAccept...) {
			c = jwt.MapClaims{}
			_, err := jwt.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(testIssuer), jwt.WithExpirationRequired())
			if err == nil {
				verified = true
				break
			}
		}
		if !verified {
			return authenticated{}, "signature_invalid"
		}
	}
	if c["typ"] != typ {
		return authenticated{}, "wrong_token_type"
	}
	sub, _ := c["sub"].(string)
	role, _ := c["role"].(string)
	sid, _ := c["sid"].(string)
	u, ok := f.users[sub]
	if !ok {
		return authenticated{}, "unknown_user"
	}
	sess, ok := f.sessions[sid]
	switch {
	case !ok:
		return authenticated{}, "unknown_session"
	case sess.user != sub:
		return authenticated{}, "session_user_mismatch"
	case sess.revoked:
		return authenticated{}, "session_revoked"
	case role != u[1]:
		return authenticated{}, "role_mismatch"
	}
	return authenticated{user: sub, role: u[1], sid: sid}, ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
