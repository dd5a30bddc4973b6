package config

import (
	"fmt"
	"strings"
)

// ProbeEndpoints say where a backend's login, identity and refresh endpoints are and how they
// answer, for a backend not shaped like the demo one. Empty fields keep the demo's: POST
// /auth/token with username and password, the tokens in access_token and refresh_token, a
// session cookie named session, GET /auth/me answering username, POST /auth/refresh.
type ProbeEndpoints struct {
	Login struct {
		Path          string `yaml:"path"`
		UsernameField string `yaml:"username_field"`
		PasswordField string `yaml:"password_field"`
		// TokenField and RefreshField are dotted paths into the JSON answer (data.token);
		// RefreshField "-" and Cookie "-" say the backend issues no refresh token or cookie.
		TokenField   string `yaml:"token_field"`
		RefreshField string `yaml:"refresh_field"`
		Cookie       string `yaml:"cookie"`
	} `yaml:"login"`
	Identity struct {
		Path          string `yaml:"path"`
		UsernameField string `yaml:"username_field"`
	} `yaml:"identity"`
	Refresh struct {
		Path string `yaml:"path"`
	} `yaml:"refresh"`
}

// check says which field of the endpoints cannot be used, and why.
func (e ProbeEndpoints) check() (string, error) {
	for _, p := range []struct{ key, v string }{
		{"login.path", e.Login.Path}, {"identity.path", e.Identity.Path}, {"refresh.path", e.Refresh.Path},
	} {
		if p.v != "" && (!strings.HasPrefix(p.v, "/") || strings.ContainsAny(p.v, " ?#\t\r\n")) {
			return p.key, fmt.Errorf("%q: want an absolute path such as /auth/token, with no query", p.v)
		}
	}
	for _, f := range []struct{ key, v string }{
		{"login.username_field", e.Login.UsernameField}, {"login.password_field", e.Login.PasswordField},
		{"login.token_field", e.Login.TokenField}, {"identity.username_field", e.Identity.UsernameField},
	} {
		if f.v == "-" || strings.ContainsAny(f.v, " \t\r\n") || strings.HasPrefix(f.v, ".") || strings.HasSuffix(f.v, ".") || strings.Contains(f.v, "..") {
			return f.key, fmt.Errorf("%q: want a field name or a dotted path such as data.token", f.v)
		}
	}
	if r := e.Login.RefreshField; r != "-" && (strings.ContainsAny(r, " \t\r\n") || strings.Contains(r, "..")) {
		return "login.refresh_field", fmt.Errorf("%q: want a dotted path, or - for none", r)
	}
	if c := e.Login.Cookie; strings.ContainsAny(c, " ;=,\t\r\n") {
		return "login.cookie", fmt.Errorf("%q: want a cookie name, or - for none", c)
	}
	return "", nil
}
