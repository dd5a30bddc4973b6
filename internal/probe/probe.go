// Package probe validates a target's auth endpoints: that a rotated secret is live, that old
// sessions are dead and that login still works. Every check yields a Result, and a Result never
// holds a token, secret or password, because Results go into workflow history and Slack.
package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authops/authops/contract"
)

// Credentials log a probe user in.
type Credentials struct{ Username, Password string }

// Session holds live credentials; it must never leave the activity that made it.
type Session struct{ AccessToken, RefreshToken, Cookie string }

// Target is the auth service under test.
type Target struct {
	BaseURL string
	// Client defaults to one with a 5s timeout that does not follow redirects: a check asserts
	// the status the endpoint itself answers, and a redirect to a login page would turn a
	// rejection into a 200.
	Client    *http.Client
	AdminPath string // default /admin/users
	// Endpoints are the login, identity and refresh endpoints; the zero value is the demo's.
	Endpoints Endpoints
	// Timeout bounds each request of the default client (0: 5s); the target's config sets it.
	Timeout time.Duration
}

const (
	defaultTimeout    = 5 * time.Second
	defaultAdminPath  = "/admin/users"
	sessionCookieName = "session"
	maxBodyBytes      = 64 << 10
	maxDetailLen      = 200
)

// Health checks GET /healthz answers 200 (and, when the body says, status "ok"). Check name "health".
func (t Target) Health(ctx context.Context) Result {
	res, body := t.check(ctx, "health", request{method: http.MethodGet, path: "/healthz"}, http.StatusOK)
	if res.OK {
		var h struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(body.data, &h) == nil && h.Status != "" && h.Status != "ok" {
			fail(&res, fmt.Sprintf("health status %q", h.Status))
		}
	}
	return res
}

// Login posts the credentials to the login endpoint (POST /auth/token) and expects 200 with an
// access token, and a refresh token and a session cookie unless the endpoints say the backend
// issues none; it captures them. Check name "login".
func (t Target) Login(ctx context.Context, c Credentials) (Session, Result) {
	e := t.Endpoints
	req := request{
		method:  http.MethodPost,
		path:    e.loginPath(),
		body:    map[string]string{e.usernameField(): c.Username, e.passwordField(): c.Password},
		secrets: []string{c.Password},
	}
	res, rep := t.check(ctx, "login", req, http.StatusOK)
	if !res.OK {
		return Session{}, res
	}
	if !json.Valid(rep.data) {
		fail(&res, "response is not token JSON")
		return Session{}, res
	}
	s := Session{AccessToken: field(rep.data, e.tokenField())}
	if e.RefreshField != None {
		s.RefreshToken = field(rep.data, e.refreshField())
	}
	for _, ck := range rep.cookies {
		if e.SessionCookie != None && ck.Name == e.cookieName() {
			s.Cookie = ck.Value
		}
	}
	switch {
	case s.AccessToken == "":
		fail(&res, "response has no "+e.tokenField())
	case s.RefreshToken == "" && e.RefreshField != None:
		fail(&res, "response has no "+e.refreshField())
	case s.Cookie == "" && e.SessionCookie != None:
		fail(&res, "response sets no "+e.cookieName()+" cookie")
	}
	return s, res
}

// Me calls GET /auth/me with a bearer token (none when empty); when want==200 it also checks
// username==wantUser.
func (t Target) Me(ctx context.Context, name, bearer, wantUser string, want int) Result {
	res, rep := t.check(ctx, name, request{method: http.MethodGet, path: t.Endpoints.identityPath(), bearer: bearer}, want)
	if res.OK && want == http.StatusOK {
		t.checkIdentity(&res, rep.data, wantUser)
	}
	return res
}

// MeCookie is Me with the session cookie instead of a bearer token.
func (t Target) MeCookie(ctx context.Context, name, cookie, wantUser string, want int) Result {
	res, rep := t.check(ctx, name, request{method: http.MethodGet, path: t.Endpoints.identityPath(), cookie: cookie}, want)
	if res.OK && want == http.StatusOK {
		t.checkIdentity(&res, rep.data, wantUser)
	}
	return res
}

// Refresh posts a refresh token to /auth/refresh; when want==200 it also checks that a new
// access token came back.
func (t Target) Refresh(ctx context.Context, name, refreshToken string, want int) Result {
	req := request{
		method:  http.MethodPost,
		path:    t.Endpoints.refreshPath(),
		body:    map[string]string{"refresh_token": refreshToken},
		secrets: []string{refreshToken},
	}
	res, rep := t.check(ctx, name, req, want)
	if res.OK && want == http.StatusOK {
		if field(rep.data, t.Endpoints.tokenField()) == "" {
			fail(&res, "response has no "+t.Endpoints.tokenField())
		}
	}
	return res
}

// Expect is a generic critical endpoint check: method and path with an optional bearer token
// must answer want.
func (t Target) Expect(ctx context.Context, name, method, path, bearer string, want int) Result {
	res, _ := t.check(ctx, name, request{method: method, path: path, bearer: bearer}, want)
	return res
}

type request struct {
	method, path string
	bearer       string // Authorization: Bearer, when set
	cookie       string // session cookie, when set
	body         any    // JSON body, when set
	secrets      []string
}

type reply struct {
	status  int
	data    []byte
	cookies []*http.Cookie
}

// check performs one request and returns its Result with the status compared to want; callers
// add checks on the body.
func (t Target) check(ctx context.Context, name string, r request, want int) (Result, reply) {
	start := time.Now()
	res := Result{Name: name, Method: r.method, Path: r.path, Expected: want, At: start.UTC()}
	rep, err := t.do(ctx, r)
	res.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		fail(&res, "request failed: "+err.Error(), r.allSecrets()...)
		return res, rep
	}
	res.Got = rep.status
	res.OK = rep.status == want
	if !res.OK {
		detail := fmt.Sprintf("expected %d, got %d", want, rep.status)
		if code := errorCode(rep.data); code != "" {
			detail += " (" + code + ")"
		}
		fail(&res, detail, r.allSecrets()...)
	}
	return res, rep
}

func (t Target) do(ctx context.Context, r request) (reply, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return reply{}, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, strings.TrimRight(t.BaseURL, "/")+r.path, body)
	if err != nil {
		return reply{}, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: t.Endpoints.cookieName(), Value: r.cookie})
	}
	resp, err := t.client().Do(req)
	if err != nil {
		// url.Error repeats method and URL, which the Result already holds.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return reply{}, fmt.Errorf("read response: %w", err)
	}
	return reply{status: resp.StatusCode, data: data, cookies: resp.Cookies()}, nil
}

func (t Target) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (t Target) adminPath() string {
	if t.AdminPath == "" {
		return defaultAdminPath
	}
	return t.AdminPath
}

func (r request) allSecrets() []string {
	return append([]string{r.bearer, r.cookie}, r.secrets...)
}

func (t Target) checkIdentity(res *Result, data []byte, wantUser string) {
	if !json.Valid(data) {
		fail(res, "response is not identity JSON")
		return
	}
	if got := field(data, t.Endpoints.identityField()); got != wantUser {
		fail(res, fmt.Sprintf("identity mismatch: got %q", got))
	}
}

// errorCode extracts the short code of a {"error":"..."} answer, e.g. password_reset_required.
func errorCode(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil || len(e.Error) > 64 {
		return ""
	}
	return e.Error
}

// fail marks a Result failed with a scrubbed detail.
func fail(res *Result, detail string, secrets ...string) {
	res.OK = false
	res.Detail = scrub(detail, secrets...)
}

// jwtLike matches anything shaped like a JWT (base64url of `{"` starts every header), so that a
// token echoed by the target cannot reach a Detail even when the probe did not send it.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?`)

// scrub removes secrets and JWT-shaped text from s and bounds its length.
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	s = jwtLike.ReplaceAllString(s, "[REDACTED]")
	if len(s) > maxDetailLen {
		cut := maxDetailLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Result and Results are the wire types of probe outcomes, shared with the client side.
type (
	Result  = contract.ProbeResult
	Results = contract.ProbeResults
)
