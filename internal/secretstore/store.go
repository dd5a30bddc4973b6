// Package secretstore keeps the versions of a secret on local disk, with
// stage labels modelled on AWS Secrets Manager (pending, current, previous),
// so that a rotation can be done in steps, retried and rolled back.
//
// The store must never lose a secret: every change is a read-modify-write of
// one JSON file under an exclusive lock, written atomically and durably, and
// the previous value is kept until the next successful promotion. Values
// never appear in errors; Version (metadata only) is what callers pass around.
package secretstore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/authops/authops/internal/atomicfile"
)

const (
	// fileFormat is written into every file so that a later layout change
	// can be detected instead of misread.
	fileFormat = 1
	// keepValues is how many of the newest versions keep their value even
	// when deprecated or failed, for forensics and manual recovery.
	keepValues = 5
	// secretLen is the number of random bytes in a generated secret: 256
	// bits, the HS256 key size.
	secretLen = 32
	// maxNameLen keeps file names well inside any file system's limits.
	maxNameLen = 128
)

// File is the file-backed store of one secret's versions. It is safe for
// concurrent use by goroutines and by separate processes sharing dir.
type File struct {
	dir      string
	name     string
	path     string // <dir>/<name>.json
	lockPath string // <dir>/<name>.lock
	fpKey    []byte

	// mu serialises goroutines of this process: flock cannot, because a lock
	// taken through one open file description does not exclude itself.
	mu sync.Mutex

	// beforeRename is a test hook for the atomic write; nil in production.
	beforeRename func(tmpPath string) error
}

// OpenFile opens (creating) the store for one secret name under dir. dir is
// created 0700 and files 0600. It also creates or loads the random
// fingerprint key file (0600) in dir, used by Fingerprint. Temp files left by
// a crashed writer are removed, and a corrupt store is reported rather than
// reinitialised.
func OpenFile(dir, name string) (*File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("secretstore: %w", err)
	}
	key, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, fmt.Errorf("secretstore: %w", err)
	}
	f := &File{
		dir:      dir,
		name:     name,
		path:     filepath.Join(dir, name+".json"),
		lockPath: filepath.Join(dir, name+".lock"),
		fpKey:    key,
	}
	err = f.locked(context.Background(), func() error {
		if err := atomicfile.RemoveStaleTemps(f.path); err != nil {
			return err
		}
		_, err := f.load()
		return err
	})
	if err != nil {
		return nil, f.wrap("open", err)
	}
	return f, nil
}

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
		if r := s.byKey(idempotencyKey); r != nil {
			if r.Op != opCreate {
				return false, fmt.Errorf("key %q was used by %s of version %s: %w", idempotencyKey, r.Op, r.ID, ErrIdempotencyConflict)
			}
			out = r.Version
			return false, nil
		}
		if p := s.byStage(StagePending); p != nil {
			return false, fmt.Errorf("version %s (key %q) is pending; promote it or mark it failed first: %w", p.ID, p.IdempotencyKey, ErrPendingExists)
		}
		raw := make([]byte, secretLen)
		if _, err := rand.Read(raw); err != nil {
			return false, fmt.Errorf("generate secret: %w", err)
		}
		value := base64.RawURLEncoding.EncodeToString(raw)
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

// Value returns the secret value of versionID. The error wraps ErrNotFound
// for an unknown id and ErrValuePruned for a version whose value was pruned.
func (f *File) Value(ctx context.Context, versionID string) (string, error) {
	s, err := f.read(ctx)
	if err != nil {
		return "", f.wrap("value", err)
	}
	r := s.byID(versionID)
	if r == nil {
		return "", f.wrap("value", fmt.Errorf("%w: %q", ErrNotFound, versionID))
	}
	if r.Value == "" {
		return "", f.wrap("value", fmt.Errorf("%w: %s", ErrValuePruned, versionID))
	}
	return r.Value, nil
}

// ByStage returns the version with stage and whether there is one. Pending,
// current and previous are held by at most one version; for failed and
// deprecated the newest such version is returned.
func (f *File) ByStage(ctx context.Context, stage Stage) (Version, bool, error) {
	if !stage.valid() {
		return Version{}, false, f.wrap("by stage", fmt.Errorf("unknown stage %q", stage))
	}
	s, err := f.read(ctx)
	if err != nil {
		return Version{}, false, f.wrap("by stage", err)
	}
	r := s.byStage(stage)
	if r == nil {
		return Version{}, false, nil
	}
	return r.Version, true, nil
}

// List returns every version, oldest first. Metadata is never pruned, so
// this is the complete history of the secret.
func (f *File) List(ctx context.Context) ([]Version, error) {
	s, err := f.read(ctx)
	if err != nil {
		return nil, f.wrap("list", err)
	}
	out := make([]Version, 0, len(s.Versions))
	for _, r := range s.Versions {
		out = append(out, r.Version)
	}
	return out, nil
}

// Promote makes a pending version current; the old current becomes previous
// and the old previous becomes deprecated. Promoting the current version
// again is a no-op, so a retried activity succeeds. Promoting any other
// stage is an ErrInvalidTransition.
func (f *File) Promote(ctx context.Context, versionID string) error {
	err := f.update(ctx, func(s *state) (bool, error) {
		r := s.byID(versionID)
		if r == nil {
			return false, fmt.Errorf("%w: %q", ErrNotFound, versionID)
		}
		switch r.Stage {
		case StageCurrent:
			return false, nil
		case StagePending:
		default:
			return false, fmt.Errorf("version %s is %s, only a pending version can be promoted: %w", r.ID, r.Stage, ErrInvalidTransition)
		}
		if prev := s.byStage(StagePrevious); prev != nil {
			prev.Stage = StageDeprecated
			r.Demoted = prev.ID
		}
		if cur := s.byStage(StageCurrent); cur != nil {
			cur.Stage = StagePrevious
		}
		r.Stage = StageCurrent
		return true, nil
	})
	return f.wrap("promote", err)
}

// MarkFailed marks a pending version failed, so that a new rotation can
// start. It is idempotent. Current, previous and deprecated versions are
// refused with ErrInvalidTransition: they have served traffic, and rolling
// back a current version is RollBack's job.
func (f *File) MarkFailed(ctx context.Context, versionID string) error {
	err := f.update(ctx, func(s *state) (bool, error) {
		r := s.byID(versionID)
		if r == nil {
			return false, fmt.Errorf("%w: %q", ErrNotFound, versionID)
		}
		switch r.Stage {
		case StageFailed:
			return false, nil
		case StagePending:
			r.Stage = StageFailed
			return true, nil
		default:
			return false, fmt.Errorf("version %s is %s, only a pending version can be marked failed: %w", r.ID, r.Stage, ErrInvalidTransition)
		}
	})
	return f.wrap("mark failed", err)
}

// RollBack undoes a promotion: versionID must be current; it becomes failed,
// the previous version becomes current again, and the version that the
// promotion deprecated becomes previous again when its value is still kept.
//
// It is idempotent: a version that is already failed is a no-op. A version
// that is still pending (the promotion never happened, e.g. a compensation
// after a Promote that timed out before running) is marked failed, so that
// compensations never get stuck. A current version without a previous one,
// and previous or deprecated versions, are refused with ErrInvalidTransition
// because rolling them back would undo a later, successful rotation.
func (f *File) RollBack(ctx context.Context, versionID string) error {
	err := f.update(ctx, func(s *state) (bool, error) {
		r := s.byID(versionID)
		if r == nil {
			return false, fmt.Errorf("%w: %q", ErrNotFound, versionID)
		}
		switch r.Stage {
		case StageFailed:
			return false, nil
		case StagePending:
			r.Stage = StageFailed
			return true, nil
		case StageCurrent:
		default:
			return false, fmt.Errorf("version %s is %s, only the current version can be rolled back: %w", r.ID, r.Stage, ErrInvalidTransition)
		}
		prev := s.byStage(StagePrevious)
		if prev == nil {
			return false, fmt.Errorf("version %s has no previous version to restore: %w", r.ID, ErrInvalidTransition)
		}
		r.Stage = StageFailed
		prev.Stage = StageCurrent
		if d := s.byID(r.Demoted); d != nil && d.Stage == StageDeprecated && d.Value != "" {
			d.Stage = StagePrevious
		}
		return true, nil
	})
	return f.wrap("roll back", err)
}

// CheckWritable proves that dir is writable and lockable by writing a probe
// file atomically (temp file, fsync, rename, fsync dir) and removing it. It is
// meant for a pre-flight check before a rotation starts changing anything.
func (f *File) CheckWritable(ctx context.Context) error {
	err := f.locked(ctx, func() error {
		probe := filepath.Join(f.dir, "."+f.name+".probe")
		if err := atomicfile.Write(probe, []byte("probe\n"), atomicfile.Options{}); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		if err := os.Remove(probe); err != nil {
			return fmt.Errorf("remove probe: %w", err)
		}
		return atomicfile.SyncDir(f.dir)
	})
	return f.wrap("check writable", err)
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

// update runs a read-modify-write of the secret's file under the lock. fn
// reports whether it changed the state; only then is the file written.
func (f *File) update(ctx context.Context, fn func(s *state) (changed bool, err error)) error {
	return f.locked(ctx, func() error {
		s, err := f.load()
		if err != nil {
			return err
		}
		changed, err := fn(s)
		if err != nil || !changed {
			return err
		}
		s.prune()
		if err := s.check(f.name); err != nil {
			// A bug, not bad input: refuse to write a state that breaks
			// the invariants rather than risk losing a value.
			return fmt.Errorf("refusing to write inconsistent state: %s", err)
		}
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return atomicfile.Write(f.path, append(data, '\n'), atomicfile.Options{BeforeRename: f.beforeRename})
	})
}

// read loads the state without taking the lock: the file is only ever
// replaced by an atomic rename, so a reader always sees a complete version.
func (f *File) read(ctx context.Context) (*state, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.load()
}

// load reads and checks the secret's file; a missing file is an empty store.
func (f *File) load() (*state, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Format: fileFormat, Name: f.name}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		// The JSON error is not wrapped: a syntax error quotes the
		// offending character, which may be part of a secret.
		return nil, fmt.Errorf("%s is corrupt: %s", f.path, describeJSONError(err))
	}
	if err := s.check(f.name); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %s", f.path, err)
	}
	return &s, nil
}

// locked runs fn holding both the in-process mutex and the cross-process
// flock on the secret's lock file.
func (f *File) locked(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	unlock, err := flockFile(ctx, f.lockPath)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// wrap prefixes err with the package, secret name and operation.
func (f *File) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("secretstore %s: %s: %w", f.name, op, err)
}

// describeJSONError says where a JSON document is broken without quoting it.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has JSON type %s, want %s", typ.Field, typ.Value, typ.Type)
	}
	return "invalid JSON"
}

// equalValues compares secrets in constant time.
func equalValues(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// checkName accepts names that are safe as a single file name component.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("secretstore: invalid secret name %q: want 1 to %d characters", name, maxNameLen)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '_' || c == '-' || c == '.')
		if !ok {
			return fmt.Errorf("secretstore: invalid secret name %q: want [A-Za-z0-9][A-Za-z0-9._-]*", name)
		}
	}
	return nil
}

// ensureDir creates dir with mode 0700. An existing directory is left as it
// is: its owner chose its mode, and the files inside are 0600 regardless.
func ensureDir(dir string) error {
	if dir == "" {
		return errors.New("store dir is empty")
	}
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("store dir %s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stat store dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create store dir: %w", err)
	}
	// MkdirAll's mode is filtered by the umask; set it explicitly so the
	// result does not depend on the environment.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("chmod store dir: %w", err)
	}
	return nil
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
