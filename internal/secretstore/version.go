package secretstore

import (
	"errors"
	"fmt"
	"time"
)

// Stage is the label a version carries, modelled on the AWS Secrets Manager
// staging labels (AWSPENDING, AWSCURRENT, AWSPREVIOUS) plus two terminal
// labels so that no version is ever deleted from the metadata.
type Stage string

const (
	// StagePending is a freshly generated value that is not yet serving.
	StagePending Stage = "pending"
	// StageCurrent is the value the backend is expected to run with.
	StageCurrent Stage = "current"
	// StagePrevious is the value that was current before the last promotion;
	// it is kept so that a failed rotation can be rolled back.
	StagePrevious Stage = "previous"
	// StageFailed is a version that was abandoned or rolled back.
	StageFailed Stage = "failed"
	// StageDeprecated is a version that has left the previous slot.
	StageDeprecated Stage = "deprecated"
)

// valid reports whether s is one of the known stages.
func (s Stage) valid() bool {
	switch s {
	case StagePending, StageCurrent, StagePrevious, StageFailed, StageDeprecated:
		return true
	}
	return false
}

// singleton reports whether at most one version may carry s at a time.
func (s Stage) singleton() bool {
	return s == StagePending || s == StageCurrent || s == StagePrevious
}

// Version is the metadata of one secret version. It never contains the value,
// so it is safe to log, to put in workflow history or to show in Slack.
type Version struct {
	ID             string    `json:"id"`
	Stage          Stage     `json:"stage"`
	Fingerprint    string    `json:"fingerprint"`
	CreatedAt      time.Time `json:"created_at"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
}

// Sentinel errors. Callers (activities) use them to decide whether an error
// is worth retrying: all of them except a wrapped I/O error are permanent.
var (
	// ErrNotFound means the version id is unknown to the store.
	ErrNotFound = errors.New("version not found")
	// ErrPendingExists means a rotation is half done: another pending version
	// exists and must be promoted or marked failed first.
	ErrPendingExists = errors.New("another pending version exists")
	// ErrCurrentExists means Import found a current version with a different value.
	ErrCurrentExists = errors.New("a different current version exists")
	// ErrIdempotencyConflict means the idempotency key was already used for a
	// different operation or a different value.
	ErrIdempotencyConflict = errors.New("idempotency key already used differently")
	// ErrInvalidTransition means the requested stage change is not allowed
	// from the version's current stage.
	ErrInvalidTransition = errors.New("invalid stage transition")
	// ErrValuePruned means the version's metadata is kept but its value was
	// pruned because it left the retention window.
	ErrValuePruned = errors.New("version value was pruned")
	// ErrConflict means another writer changed the store between this
	// operation's read and its write (a Vault check-and-set mismatch):
	// nothing was changed by this call, and a retry reads the new state.
	ErrConflict = errors.New("concurrent write: check-and-set did not match")
	// ErrUnavailable means the store could not be reached: nothing was
	// changed by this call, and a retry may succeed.
	ErrUnavailable = errors.New("secret store unavailable")
	// ErrDenied means the store refused the credentials (a Vault token
	// that expired, was revoked or lacks the policy): nothing was changed.
	ErrDenied = errors.New("secret store denied access")
)

// Operations recorded with each version so that an idempotency key cannot be
// reused by a different operation and silently return the wrong version.
const (
	opCreate = "create"
	opImport = "import"
)

// record is one version as stored on disk, with its value.
type record struct {
	Version
	Op string `json:"op"`
	// Value is empty once pruned: generated and imported values are never empty.
	Value string `json:"value,omitempty"`
	// Demoted is the id of the version this promotion moved from previous to
	// deprecated, so that RollBack can restore it and truly undo the promotion.
	Demoted string `json:"demoted,omitempty"`
}

// state is the whole content of one secret's file.
type state struct {
	Format   int       `json:"format"`
	Name     string    `json:"name"`
	Versions []*record `json:"versions"`
}

// byID returns the record with id, or nil.
func (s *state) byID(id string) *record {
	for _, r := range s.Versions {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// byKey returns the record created with idempotency key, or nil.
func (s *state) byKey(key string) *record {
	for _, r := range s.Versions {
		if r.IdempotencyKey == key {
			return r
		}
	}
	return nil
}

// byStage returns the newest record with stage, or nil.
func (s *state) byStage(stage Stage) *record {
	for i := len(s.Versions) - 1; i >= 0; i-- {
		if s.Versions[i].Stage == stage {
			return s.Versions[i]
		}
	}
	return nil
}

// check verifies the invariants the rest of the package relies on. A file
// that breaks them is reported, never rewritten, so that no value is lost.
func (s *state) check(name string) error {
	if s.Format != fileFormat {
		return fmt.Errorf("unsupported format %d (want %d)", s.Format, fileFormat)
	}
	if s.Name != name {
		return fmt.Errorf("file belongs to secret %q", s.Name)
	}
	ids := make(map[string]bool, len(s.Versions))
	keys := make(map[string]bool, len(s.Versions))
	seen := make(map[Stage]string)
	for i, r := range s.Versions {
		if r == nil || r.ID == "" {
			return fmt.Errorf("version #%d has no id", i)
		}
		if ids[r.ID] {
			return fmt.Errorf("duplicate version id %s", r.ID)
		}
		ids[r.ID] = true
		if r.IdempotencyKey != "" {
			if keys[r.IdempotencyKey] {
				return fmt.Errorf("duplicate idempotency key on version %s", r.ID)
			}
			keys[r.IdempotencyKey] = true
		}
		if !r.Stage.valid() {
			return fmt.Errorf("version %s has unknown stage %q", r.ID, r.Stage)
		}
		if r.Stage.singleton() {
			if other, ok := seen[r.Stage]; ok {
				return fmt.Errorf("versions %s and %s are both %s", other, r.ID, r.Stage)
			}
			seen[r.Stage] = r.ID
			if r.Value == "" {
				return fmt.Errorf("%s version %s has no value", r.Stage, r.ID)
			}
		}
	}
	return nil
}

// prune drops the values of deprecated and failed versions that are older
// than the newest keepValues versions. Metadata is kept forever; pending,
// current and previous values are never pruned.
func (s *state) prune() {
	for i, r := range s.Versions {
		if len(s.Versions)-i <= keepValues {
			return
		}
		if r.Stage == StageDeprecated || r.Stage == StageFailed {
			r.Value = ""
		}
	}
}
