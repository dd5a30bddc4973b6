package probe

import (
	"encoding/json"
	"strings"
)

// Endpoints say where a backend's login, identity and refresh endpoints are and how they answer.
// The zero value is the demo backend's shape: POST /auth/token with {"username","password"},
// the tokens in access_token and refresh_token, a session cookie named session, GET /auth/me
// answering {"username"}, POST /auth/refresh with {"refresh_token"}.
type Endpoints struct {
	LoginPath     string
	UsernameField string
	PasswordField string
	// TokenField, RefreshField and IdentityField are dotted paths into the JSON answer
	// ("data.token"). RefreshField "-" says the backend issues no refresh token, and
	// SessionCookie "-" that it sets no session cookie: the checks on them are then not run.
	TokenField    string
	RefreshField  string
	SessionCookie string
	IdentityPath  string
	IdentityField string
	RefreshPath   string
}

// None marks a refresh token or a session cookie the backend does not issue.
const None = "-"

func (e Endpoints) loginPath() string     { return or(e.LoginPath, "/auth/token") }
func (e Endpoints) usernameField() string { return or(e.UsernameField, "username") }
func (e Endpoints) passwordField() string { return or(e.PasswordField, "password") }
func (e Endpoints) tokenField() string    { return or(e.TokenField, "access_token") }
func (e Endpoints) refreshField() string  { return or(e.RefreshField, "refresh_token") }
func (e Endpoints) cookieName() string    { return or(e.SessionCookie, sessionCookieName) }
func (e Endpoints) identityPath() string  { return or(e.IdentityPath, "/auth/me") }
func (e Endpoints) identityField() string { return or(e.IdentityField, "username") }
func (e Endpoints) refreshPath() string   { return or(e.RefreshPath, "/auth/refresh") }

// field reads the string at a dotted path in a JSON document, or "".
func field(data []byte, path string) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
