package main

import (
	"crypto/subtle"
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
	// RevokedReason is set when the service itself revoked the session
	// (reasonRefreshReused); the control API's restore leaves such a session
	// revoked. Empty for sessions revoked through the control API.
	RevokedReason string `json:"revoked_reason,omitempty"`
	// RefreshHash is the tokenHash of the session's one current refresh
	// token; every refresh replaces it. Empty only for a session written by
	// a version without rotation: its next refresh starts the chain.
	RefreshHash string `json:"refresh_hash,omitempty"`
}

// reasonRefreshReused is the error code, log reason and revocation reason
// for a refresh token presented after it was rotated away.
const reasonRefreshReused = "refresh_token_reused"

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
// their password stay revoked: restoring them would bypass the reset. So do
// sessions the service revoked itself because a refresh token was reused:
// revokeSessions did not end them, and their refresh chain is in the hands
// of someone else.
func (st *controlState) restoreSessions(username string) int {
	n := 0
	for id, s := range st.Sessions {
		if s.RevokedAt == nil || s.RevokedReason != "" || (username != "" && s.Username != username) ||
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
	// A file written before ranges were normalised lists them as written.
	st.DeniedCIDRs = cidrStrings(denied)
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
	next.DeniedCIDRs = cidrStrings(denied)
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
func (st *controlState) sessionReason(sid, username string, iat, now time.Time) string {
	sess, ok := st.Sessions[sid]
	switch {
	case !ok:
		return "unknown_session"
	case sess.Username != username:
		return "session_user_mismatch"
	case sess.RevokedAt != nil:
		return "session_revoked"
	case now.After(sess.ExpiresAt):
		// Not pruned yet, but over: no token of it may still be live.
		return "session_expired"
	// Whole seconds on purpose: iat has second precision, and a token
	// issued in the same second as the cutoff must stay valid.
	case st.RevokedBefore != nil && iat.Unix() < st.RevokedBefore.Unix():
		return "issued_before_cutoff"
	}
	return ""
}

func (s *stateStore) sessionReason(sid, username string, iat, now time.Time) string {
	reason := ""
	s.view(func(st *controlState, _ []netip.Prefix) {
		reason = st.sessionReason(sid, username, iat, now)
	})
	return reason
}

// rotateRefresh is one use of a refresh token of session sid: presented and
// next are the tokenHash of the token the client sent and of the one that
// replaces it. It returns "" when presented was the session's current refresh
// token and next now is; a session reason (changing nothing) when the session
// does not accept the token at all; or reasonRefreshReused when presented is
// a refresh token of this live session other than the current one, in which
// case it has revoked the whole session.
//
// Every refresh token of a session is signed by the service and only one is
// current, so any other one that verifies was rotated away earlier and is
// being replayed: by a thief, or by the client after the thief used it first
// (the OAuth 2.0 Security BCP's reuse detection; the service cannot tell
// which, so neither keeps the session). No list of old hashes is needed. The
// one token this also catches that was never issued is one minted with a
// leaked JWT_SECRET, whose holder could mint access tokens for the session
// anyway; ending the session then is no loss.
func (st *controlState) rotateRefresh(sid, username string, iat, now time.Time, presented, next string) string {
	if reason := st.sessionReason(sid, username, iat, now); reason != "" {
		return reason
	}
	sess := st.Sessions[sid]
	// An empty hash is a session from before rotation: its one refresh
	// token is accepted once and starts the chain.
	if sess.RefreshHash != "" && subtle.ConstantTimeCompare([]byte(sess.RefreshHash), []byte(presented)) != 1 {
		sess.RevokedAt = &now
		sess.RevokedReason = reasonRefreshReused
		st.Sessions[sid] = sess
		return reasonRefreshReused
	}
	sess.RefreshHash = next
	st.Sessions[sid] = sess
	return ""
}

func (s *stateStore) passwordResetRequired(username string) bool {
	required := false
	s.view(func(st *controlState, _ []netip.Prefix) {
		required = slices.Contains(st.PasswordReset, username)
	})
	return required
}
