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
// (bearer or session cookie), /admin/users and /healthz.
type fakeBackend struct {
	mu      sync.Mutex
	secret  string
	users   map[string][2]string // username -> password, role
	revoked map[string]bool      // sid -> revoked
	sids    []string
	// skipSignature makes the fake insecure: it accepts any token it can decode.
	skipSignature bool
}

func newFake(t *testing.T, secret string) (*fakeBackend, Target) {
	t.Helper()
	f := &fakeBackend{
		secret:  secret,
		users:   map[string][2]string{"probe": {"probe-pass-Zq9", "user"}, "probe-admin": {"admin-pass-Xw2", "admin"}},
		revoked: map[string]bool{},
	}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, Target{BaseURL: srv.URL}
}

func (f *fakeBackend) setSecret(s string) { f.mu.Lock(); f.secret = s; f.mu.Unlock() }

// revokeAll is the emergency cutover: every session issued so far is dead.
func (f *fakeBackend) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sid := range f.sids {
		f.revoked[sid] = true
	}
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
		c, ok := f.validate(in.RefreshToken, "refresh")
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			return
		}
		f.issue(w, c["sub"].(string), c["role"].(string), c["sid"].(string), false)
	})
	mux.HandleFunc("GET /auth/me", func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.authenticate(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"username": c["sub"], "role": c["role"]})
	})
	mux.HandleFunc("GET /admin/users", func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.authenticate(r)
		switch {
		case !ok:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		case c["role"] != "admin":
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
		sid = fmt.Sprintf("sid-%d", len(f.sids))
		f.sids = append(f.sids, sid)
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

func (f *fakeBackend) authenticate(r *http.Request) (jwt.MapClaims, bool) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return f.validate(strings.TrimPrefix(h, "Bearer "), "access")
	}
	if ck, err := r.Cookie("session"); err == nil {
		return f.validate(ck.Value, "session")
	}
	return nil, false
}

func (f *fakeBackend) validate(tok, typ string) (jwt.MapClaims, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := jwt.MapClaims{}
	var err error
	if f.skipSignature {
		_, _, err = jwt.NewParser().ParseUnverified(tok, c)
	} else {
		_, err = jwt.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return []byte(f.secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(testIssuer), jwt.WithExpirationRequired())
	}
	if err != nil || c["typ"] != typ {
		return nil, false
	}
	sid, _ := c["sid"].(string)
	if f.revoked[sid] {
		return nil, false
	}
	if _, ok := c["sub"].(string); !ok {
		return nil, false
	}
	if _, ok := c["role"].(string); !ok {
		return nil, false
	}
	return c, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
