package secretstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// CreatePending generates a new secret inside the store (32 random bytes
// from crypto/rand, base64url without padding) as a pending version.
//
// It is idempotent: the same key returns the version it created before,
// whatever that version's stage is now, and nothing is generated again. If
// another pending version exists with a different key, it returns an error
// wrapping ErrPendingExists that names it: a rotation is half done and the
// caller must promote it or mark it failed.
func (f *File) CreatePending(ctx context.Context, idempotencyKey string) (Version, error) {
	if idempotencyKey == "" {
		return Version{}, f.wrap("create pending", errors.New("idempotency key is empty"))
	}
	var out Version
	err := f.update(ctx, func(s *state) (bool, error) {
		v, reuse, err := s.beforeCreate(idempotencyKey)
		if err != nil || reuse {
			out = v
			return false, err
		}
		value, err := newSecretValue()
		if err != nil {
			return false, err
		}
		r, err := f.newRecord(s, opCreate, idempotencyKey, StagePending, value)
		if err != nil {
			return false, err
		}
		out = r.Version
		return true, nil
	})
	if err != nil {
		return Version{}, f.wrap("create pending", err)
	}
	return out, nil
}

// Import adopts an existing value (e.g. the secret the backend already runs
// with) as current when the store has no current version.
//
// It is idempotent by key (the same key with a different value is an
// ErrIdempotencyConflict). If a current version exists with the same value it
// is returned; if it has a different value the error wraps ErrCurrentExists.
func (f *File) Import(ctx context.Context, idempotencyKey, value string) (Version, error) {
	if idempotencyKey == "" {
		return Version{}, f.wrap("import", errors.New("idempotency key is empty"))
	}
	if value == "" {
		return Version{}, f.wrap("import", errors.New("value is empty"))
	}
	var out Version
	err := f.update(ctx, func(s *state) (bool, error) {
		if v, done, err := f.importedBefore(s, idempotencyKey, value); done {
			out = v
			return false, err
		}
		if c := s.byStage(StageCurrent); c != nil {
			if !equalValues(c.Value, value) {
				return false, fmt.Errorf("current version %s has fingerprint %s, the imported value %s: %w",
					c.ID, c.Fingerprint, f.Fingerprint(value), ErrCurrentExists)
			}
			out = c.Version
			return false, nil
		}
		r, err := f.newRecord(s, opImport, idempotencyKey, StageCurrent, value)
		if err != nil {
			return false, err
		}
		out = r.Version
		return true, nil
	})
	if err != nil {
		return Version{}, f.wrap("import", err)
	}
	return out, nil
}

// importedBefore answers a retried import: done reports that idempotencyKey was used before, and
// then v is the version it imported, or err says why the retry does not match it.
func (f *File) importedBefore(s *state, idempotencyKey, value string) (v Version, done bool, err error) {
	r := s.byKey(idempotencyKey)
	if r == nil {
		return Version{}, false, nil
	}
	if r.Op != opImport {
		return Version{}, true, fmt.Errorf("key %q was used by %s of version %s: %w", idempotencyKey, r.Op, r.ID, ErrIdempotencyConflict)
	}
	// A pruned value can only be compared by its keyed fingerprint.
	same := r.Fingerprint == f.Fingerprint(value)
	if r.Value != "" {
		same = equalValues(r.Value, value)
	}
	if !same {
		return Version{}, true, fmt.Errorf("key %q imported version %s with a different value (fingerprint %s, got %s): %w",
			idempotencyKey, r.ID, r.Fingerprint, f.Fingerprint(value), ErrIdempotencyConflict)
	}
	return r.Version, true, nil
}

// newRecord appends a new version with a fresh unique id.
func (f *File) newRecord(s *state, op, key string, stage Stage, value string) (*record, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("generate version id: %w", err)
	}
	// The sequence number keeps ids unique and readable even though the
	// random suffix is short: metadata is never deleted, so it only grows.
	id := fmt.Sprintf("v%d-%s", len(s.Versions)+1, hex.EncodeToString(suffix))
	r := &record{
		Version: Version{
			ID:          id,
			Stage:       stage,
			Fingerprint: f.Fingerprint(value),
			// UTC and without the monotonic reading, so that the value
			// returned equals the one read back from disk.
			CreatedAt:      time.Now().UTC().Round(0),
			IdempotencyKey: key,
		},
		Op:    op,
		Value: value,
	}
	s.Versions = append(s.Versions, r)
	return r, nil
}

// beforeCreate is the check every store's create makes first: a retry with the same key gets its
// version back (reuse), and a pending version of another run refuses the create.
func (s *state) beforeCreate(key string) (v Version, reuse bool, err error) {
	if r := s.byKey(key); r != nil {
		if r.Op != opCreate {
			return Version{}, false, fmt.Errorf("key %q was used by %s of version %s: %w", key, r.Op, r.ID, ErrIdempotencyConflict)
		}
		return r.Version, true, nil
	}
	if p := s.byStage(StagePending); p != nil {
		return Version{}, false, fmt.Errorf("version %s (key %q) is pending; promote it or mark it failed first: %w", p.ID, p.IdempotencyKey, ErrPendingExists)
	}
	return Version{}, false, nil
}

// newSecretValue is a new random secret, secretLen bytes, URL-safe base64.
func newSecretValue() (string, error) {
	raw := make([]byte, secretLen)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}
