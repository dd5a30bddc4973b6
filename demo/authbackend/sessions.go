package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/authops/authops/internal/atomicfile"
)

// session is one login. Its tokens carry the id as the sid claim.
type session struct {
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the latest exp of any token of the session, so a pruned
	// session can no longer have a live token.
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// routeRestriction makes requests under prefix answer status.
type routeRestriction struct {
	Prefix string `json:"prefix"`
	Status int    `json:"status"`
}

// controlState is everything that survives a restart: sessions and the
// controls set through the control API. It is the state file's format.
type controlState struct {
	// RevokedBefore is the revoke-all cutoff: tokens with iat before it
	// (in whole seconds) are rejected.
	RevokedBefore    *time.Time         `json:"revoked_before"`
	Sessions         map[string]session `json:"sessions"`
	PasswordReset    []string           `json:"password_reset_users"`
	LogLevel         string             `json:"log_level"`
	RestrictedRoutes []routeRestriction `json:"restricted_routes"`
	DeniedCIDRs      []string           `json:"denied_cidrs"`
}

func newControlState() controlState {
	return controlState{
		Sessions:         map[string]session{},
		PasswordReset:    []string{},
		LogLevel:         "info",
		RestrictedRoutes: []routeRestriction{},
		DeniedCIDRs:      []string{},
	}
}

func (st *controlState) clone() controlState {
	c := *st
	if st.RevokedBefore != nil {
		t := *st.RevokedBefore
		c.RevokedBefore = &t
	}
	c.Sessions = maps.Clone(st.Sessions)
	c.PasswordReset = slices.Clone(st.PasswordReset)
	c.RestrictedRoutes = slices.Clone(st.RestrictedRoutes)
	c.DeniedCIDRs = slices.Clone(st.DeniedCIDRs)
	return c
}

// normalize fills nil collections (from an older or hand-written file) so
// that the JSON always shows lists, never null.
func (st *controlState) normalize() {
	if st.Sessions == nil {
		st.Sessions = map[string]session{}
	}
	if st.PasswordReset == nil {
		st.PasswordReset = []string{}
	}
	if st.LogLevel == "" {
		st.LogLevel = "info"
	}
	if st.RestrictedRoutes == nil {
		st.RestrictedRoutes = []routeRestriction{}
	}
	if st.DeniedCIDRs == nil {
		st.DeniedCIDRs = []string{}
	}
}

// validate checks a loaded state with the same rules as the control API.
func (st *controlState) validate() error {
	if _, err := parseLevel(st.LogLevel); err != nil {
		return err
	}
	for _, r := range st.RestrictedRoutes {
		if err := validateRestriction(r.Prefix, r.Status); err != nil {
			return err
		}
	}
	if _, err := parseCIDRs(st.DeniedCIDRs); err != nil {
		return err
	}
	return nil
}

func (st *controlState) prune(now time.Time) {
	maps.DeleteFunc(st.Sessions, func(_ string, s session) bool { return now.After(s.ExpiresAt) })
}

// revokeSessions revokes the live sessions of username, or of everyone when
// username is empty, and returns how many it revoked.
func (st *controlState) revokeSessions(username string, at time.Time) int {
	n := 0
	for id, s := range st.Sessions {
		if s.RevokedAt != nil || (username != "" && s.Username != username) {
			continue
		}
		s.RevokedAt = &at
		st.Sessions[id] = s
		n++
	}
	return n
}

// restoreSessions undoes revokeSessions. Sessions of users who must reset
// their password stay revoked: restoring them would bypass the reset.
func (st *controlState) restoreSessions(username string) int {
	n := 0
	for id, s := range st.Sessions {
		if s.RevokedAt == nil || (username != "" && s.Username != username) ||
			slices.Contains(st.PasswordReset, s.Username) {
			continue
		}
		s.RevokedAt = nil
		st.Sessions[id] = s
		n++
	}
	return n
}

func (st *controlState) sessionCounts(now time.Time) (active, revoked int) {
	for _, s := range st.Sessions {
		switch {
		case s.RevokedAt != nil:
			revoked++
		case !now.After(s.ExpiresAt):
			active++
		}
	}
	return active, revoked
}

// stateStore guards the control state and mirrors every change to the
// state file. With an empty path it keeps the state in memory only.
type stateStore struct {
	path string

	mu     sync.RWMutex
	st     controlState
	denied []netip.Prefix // parsed DeniedCIDRs, kept for the per-request check
}

// openStateStore loads the state file, or starts empty when it does not
// exist yet.
func openStateStore(path string, now time.Time) (*stateStore, error) {
	st := newControlState()
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read state file: %w", err)
		default:
			if err := json.Unmarshal(data, &st); err != nil {
				return nil, fmt.Errorf("parse state file %s: %w", path, err)
			}
			st.normalize()
			if err := st.validate(); err != nil {
				return nil, fmt.Errorf("state file %s: %w", path, err)
			}
		}
	}
	st.prune(now)
	denied, err := parseCIDRs(st.DeniedCIDRs)
	if err != nil {
		return nil, err
	}
	return &stateStore{path: path, st: st, denied: denied}, nil
}

// update applies fn to a copy of the state, persists the copy and only then
// makes it current. If fn or the write fails, nothing changes.
func (s *stateStore) update(now time.Time, fn func(st *controlState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.st.clone()
	if err := fn(&next); err != nil {
		return err
	}
	next.prune(now)
	denied, err := parseCIDRs(next.DeniedCIDRs)
	if err != nil {
		return err
	}
	if s.path != "" {
		data, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return fmt.Errorf("encode state: %w", err)
		}
		if err := atomicfile.Write(s.path, append(data, '\n'), atomicfile.Options{Perm: 0o600}); err != nil {
			return fmt.Errorf("save state: %w", err)
		}
	}
	s.st, s.denied = next, denied
	return nil
}

// view runs fn with the current state under a read lock. fn must not keep
// or modify anything it is given.
func (s *stateStore) view(fn func(st *controlState, denied []netip.Prefix)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(&s.st, s.denied)
}

// sessionReason says why a token of session sid for username, issued at iat,
// is not accepted at now, or "" when it is. A token is only accepted when its
// sid names a live session of that same user: a validly signed token with a
// made-up sid (someone holding a leaked secret) is refused, and so is one
// borrowing another user's session.
func (s *stateStore) sessionReason(sid, username string, iat, now time.Time) string {
	reason := ""
	s.view(func(st *controlState, _ []netip.Prefix) {
		sess, ok := st.Sessions[sid]
		switch {
		case !ok:
			reason = "unknown_session"
		case sess.Username != username:
			reason = "session_user_mismatch"
		case sess.RevokedAt != nil:
			reason = "session_revoked"
		case now.After(sess.ExpiresAt):
			// Not pruned yet, but over: no token of it may still be live.
			reason = "session_expired"
		// Whole seconds on purpose: iat has second precision, and a token
		// issued in the same second as the cutoff must stay valid.
		case st.RevokedBefore != nil && iat.Unix() < st.RevokedBefore.Unix():
			reason = "issued_before_cutoff"
		}
	})
	return reason
}

func (s *stateStore) passwordResetRequired(username string) bool {
	required := false
	s.view(func(st *controlState, _ []netip.Prefix) {
		required = slices.Contains(st.PasswordReset, username)
	})
	return required
}
