package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// validate checks a secret store; field names the key at fault, under the target.
func (s *SecretStore) validate() (field string, err error) {
	switch s.Kind {
	case "file":
		if s.Dir == "" || s.Name == "" {
			return "secret_store", errors.New("dir and name are required")
		}
		return "", nil
	case "vault":
		return s.validateVault()
	}
	return "secret_store.kind", fmt.Errorf(`must be "file" or "vault", got %q`, s.Kind)
}

func (s *SecretStore) validateVault() (field string, err error) {
	if s.Address == "" {
		return "secret_store.address", errors.New("is required for kind vault")
	}
	if u, err := url.Parse(s.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "secret_store.address", fmt.Errorf("must be an http(s) URL, got %q", s.Address)
	}
	if s.Mount == "" || strings.Trim(s.Mount, "/") != s.Mount {
		return "secret_store.mount", errors.New("is required for kind vault, without leading or trailing /")
	}
	if s.Path == "" || strings.Trim(s.Path, "/") != s.Path || strings.Contains(s.Path, "//") {
		return "secret_store.path", errors.New("is required for kind vault, without leading, trailing or double /")
	}
	if s.Name != "" {
		return "secret_store.name", errors.New("is only for kind file (kind vault names its secret by mount and path)")
	}
	a := s.Auth
	switch {
	case a.Token != nil && a.AppRole != nil:
		return "secret_store.auth", errors.New("give either token or approle, not both")
	case a.Token != nil:
		if (a.Token.File == "") == (a.Token.Env == "") {
			return "secret_store.auth.token", errors.New("must be one reference, {file: PATH} or {env: NAME}")
		}
	case a.AppRole != nil:
		if a.AppRole.RoleID == "" {
			return "secret_store.auth.approle.role_id", errors.New("is required")
		}
		if (a.AppRole.SecretID.File == "") == (a.AppRole.SecretID.Env == "") {
			return "secret_store.auth.approle.secret_id", errors.New("must be one reference, {file: PATH} or {env: NAME}")
		}
	default:
		return "secret_store.auth", errors.New("is required for kind vault: {token: {file: PATH}} or {approle: {role_id, secret_id}}")
	}
	return "", nil
}
