package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

const (
	testSecret     = "test-secret-0123456789-abcdefghijklmnop"
	testAdminToken = "test-admin-token-5b1d9c"
	testIssuer     = "authbackend-test"
	testAccessTTL  = 15 * time.Minute
)

// testUsers are the accounts of every fixture. Passwords are distinctive so
// the log test can search for them.
func testUsers() []userEntry {
	return []userEntry{
		{Username: "alice", Password: "alice-pw-Q7v!x", Role: "admin"},
		{Username: "bob", Password: "bob-pw-M3k#z", Role: "user"},
		{Username: "carol", Password: "carol-pw-T9w$p", Role: "user"},
	}
}

func passwordOf(t *testing.T, name string) string {
	t.Helper()
	for _, u := range testUsers() {
		if u.Username == name {
			return u.Password
		}
	}
	t.Fatalf("no test user %q", name)
	return ""
}

// fakeClock is the server's injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink that the server writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is an in-process authbackend behind httptest.
type fixture struct {
	t     *testing.T
	cfg   serverConfig
	srv   *server
	ts    *httptest.Server
	clock *fakeClock
	logs  *syncBuffer
}

// newFixture starts a server with the test users, admin token and a fake
// clock; opts adjust the config before it starts.
func newFixture(t *testing.T, opts ...func(*serverConfig)) *fixture {
	t.Helper()
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	cfg := serverConfig{
		secret:     []byte(testSecret),
		issuer:     testIssuer,
		accessTTL:  testAccessTTL,
		adminToken: testAdminToken,
		users:      testUsers(),
		stateFile:  t.TempDir() + "/state.json",
		logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})),
		logLevel:   level,
		now:        clock.Now,
		bcryptCost: bcrypt.MinCost,
	}
	for _, o := range opts {
		o(&cfg)
	}
	f := &fixture{t: t, cfg: cfg, clock: clock, logs: logs}
	f.start()
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	srv, err := newServer(f.cfg)
	require.NoError(f.t, err)
	f.srv = srv
	f.ts = httptest.NewServer(srv)
	f.t.Cleanup(f.ts.Close)
}

// restart replaces the server with a new one built from the same config,
// as a process restart would.
func (f *fixture) restart() {
	f.t.Helper()
	f.ts.Close()
	f.start()
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
	resp   *http.Response
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	s, ok := m["error"].(string)
	require.True(t, ok, "no error field in %s", r.body)
	return s
}

// request is one HTTP call; body may be a string (sent raw) or a value
// (sent as JSON).
type request struct {
	method  string
	path    string
	body    any
	bearer  string
	cookie  string
	headers map[string]string
}

func (f *fixture) do(req request) response {
	f.t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(f.t, err)
		body = bytes.NewReader(data)
	}
	r, err := http.NewRequest(req.method, f.ts.URL+req.path, body)
	require.NoError(f.t, err)
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	if req.cookie != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookieName, Value: req.cookie})
	}
	for k, v := range req.headers {
		r.Header.Set(k, v)
	}
	resp, err := f.ts.Client().Do(r)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data, resp: resp}
}

// issued is what a successful login or refresh hands out.
type issued struct {
	tokenResponse
	cookie *http.Cookie
}

func (f *fixture) login(username string) issued {
	f.t.Helper()
	r := f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": username, "password": passwordOf(f.t, username)}})
	require.Equal(f.t, http.StatusOK, r.status, "login %s: %s", username, r.body)
	return decodeIssued(f.t, r)
}

func decodeIssued(t *testing.T, r response) issued {
	t.Helper()
	var out issued
	require.NoError(t, json.Unmarshal(r.body, &out.tokenResponse))
	for _, c := range r.resp.Cookies() {
		if c.Name == sessionCookieName {
			out.cookie = c
		}
	}
	require.NotNil(t, out.cookie, "no session cookie")
	return out
}

// me calls /auth/me with a bearer token and returns status and error code.
func (f *fixture) me(bearer string) (int, string) {
	f.t.Helper()
	r := f.do(request{method: http.MethodGet, path: "/auth/me", bearer: bearer})
	if r.status == http.StatusOK {
		return r.status, ""
	}
	return r.status, r.errorCode(f.t)
}

// control calls the control API with the admin token.
func (f *fixture) control(method, path string, body any) response {
	f.t.Helper()
	return f.do(request{method: method, path: path, body: body, bearer: testAdminToken})
}

func (f *fixture) controlOK(method, path string, body any) map[string]any {
	f.t.Helper()
	r := f.control(method, path, body)
	require.Equal(f.t, http.StatusOK, r.status, "%s %s: %s", method, path, r.body)
	return r.json(f.t)
}

func (f *fixture) state() map[string]any {
	f.t.Helper()
	return f.controlOK(http.MethodGet, "/_control/state", nil)
}

// craft signs arbitrary claims, for tokens the server would never issue.
func craft(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// claimsFor builds well-formed claims that tests then bend.
func claimsFor(sub, role, sid, typ string, iat time.Time, ttl time.Duration) *tokenClaims {
	return &tokenClaims{
		Role:      role,
		SessionID: sid,
		Type:      typ,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
		},
	}
}
