// Package controls is a client for a backend's admin controls: the app logout policy (session
// revocation), password-reset enforcement, auth log level, route restrictions and CIDR denies.
// The demo backend serves this API under /_control; docs/contracts.md has its shape.
package controls

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/authops/authops/contract"
)

// Client calls the control API with the admin token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// State is what the backend reports about its controls.
type State struct {
	RevokedBefore      *time.Time `json:"revoked_before"`
	RevokedSessions    int        `json:"revoked_sessions"`
	ActiveSessions     int        `json:"active_sessions"`
	PasswordResetUsers []string   `json:"password_reset_users"`
	LogLevel           string     `json:"log_level"`
	RestrictedRoutes   []Route    `json:"restricted_routes"`
	DeniedCIDRs        []string   `json:"denied_cidrs"`
}

// Route is a restricted path prefix and the status it answers.
type Route struct {
	Prefix string `json:"prefix"`
	Status int    `json:"status"`
}

// Revocation is the answer to a session revocation.
type Revocation struct {
	Revoked int       `json:"revoked"`
	Cutoff  time.Time `json:"cutoff"`
}

// State reads the current controls.
func (c Client) State(ctx context.Context) (State, error) {
	var s State
	return s, c.do(ctx, http.MethodGet, "/_control/state", nil, &s)
}

// RevokeSessions revokes every session (username "") or one user's; tokens issued before now are
// rejected from then on.
func (c Client) RevokeSessions(ctx context.Context, username string) (Revocation, error) {
	var r Revocation
	return r, c.do(ctx, http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": username}, &r)
}

// RevokeUsers revokes the sessions of several users: all of them, or none when one is unknown.
func (c Client) RevokeUsers(ctx context.Context, usernames []string) (Revocation, error) {
	var r Revocation
	return r, c.do(ctx, http.MethodPost, "/_control/sessions/revoke", map[string]any{"usernames": usernames}, &r)
}

// RestoreSessions undoes RevokeSessions.
func (c Client) RestoreSessions(ctx context.Context, username string) error {
	return c.do(ctx, http.MethodPost, "/_control/sessions/restore", map[string]string{"username": username}, nil)
}

// RequirePasswordReset sets or clears the reset requirement of users.
func (c Client) RequirePasswordReset(ctx context.Context, usernames []string, required bool) error {
	return c.do(ctx, http.MethodPost, "/_control/password-reset", map[string]any{"usernames": usernames, "required": required}, nil)
}

// SetLogLevel changes the auth log level and returns the previous one.
func (c Client) SetLogLevel(ctx context.Context, level string) (string, error) {
	var r struct {
		Previous string `json:"previous"`
	}
	return r.Previous, c.do(ctx, http.MethodPut, "/_control/log-level", map[string]string{"level": level}, &r)
}

// RestrictRoutes makes requests under the prefixes answer status (403 or 503).
func (c Client) RestrictRoutes(ctx context.Context, prefixes []string, status int) error {
	if err := ValidatePrefixes(prefixes); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": prefixes, "status": status}, nil)
}

// LiftRoutes removes restrictions (all of them when prefixes is empty).
func (c Client) LiftRoutes(ctx context.Context, prefixes []string) error {
	return c.do(ctx, http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": nonNil(prefixes)}, nil)
}

// DenyCIDRs blocks client address ranges.
func (c Client) DenyCIDRs(ctx context.Context, cidrs []string) error {
	if err := ValidateCIDRs(cidrs); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": cidrs}, nil)
}

// AllowCIDRs undoes DenyCIDRs (all when cidrs is empty).
func (c Client) AllowCIDRs(ctx context.Context, cidrs []string) error {
	return c.do(ctx, http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": nonNil(cidrs)}, nil)
}

// ValidateCIDRs checks CIDRs before anything is sent.
func ValidateCIDRs(cidrs []string) error {
	if len(cidrs) == 0 {
		return fmt.Errorf("no CIDRs given")
	}
	for _, s := range cidrs {
		// netip, as the backend parses them: it refuses what net.ParseCIDR lets through
		// (a prefix length with leading zeros, "10.0.0.0/08").
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("invalid CIDR %q", s)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (c Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("control %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if c.Token != "" {
			// A backend may echo the request; the token must not reach history or logs.
			e.Error = strings.ReplaceAll(e.Error, c.Token, "[REDACTED]")
		}
		return &StatusError{Path: path, Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("control %s: decode answer: %w", path, err)
		}
	}
	return nil
}

// StatusError is a non-2xx answer; 4xx means bad input and is not worth retrying.
type StatusError struct {
	Path    string
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("control %s: status %d: %s", e.Path, e.Status, e.Message)
}

// ValidatePrefixes checks a route list before anything is sent; the rule is shared with the
// runbooks' input validation.
func ValidatePrefixes(prefixes []string) error { return contract.ValidatePrefixes(prefixes) }
