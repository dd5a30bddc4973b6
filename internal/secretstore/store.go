// Package secretstore keeps the versions of a secret, with stage labels
// modelled on AWS Secrets Manager (pending, current, previous), so that a
// rotation can be done in steps, retried and rolled back: on local disk
// (File), or in a Vault KV v2 mount (Vault, vault*.go).
//
// The store must never lose a secret: every change is a read-modify-write of
// one JSON file under an exclusive lock, written atomically and durably, and
// the previous value is kept until the next successful promotion. Values
// never appear in errors; Version (metadata only) is what callers pass around.
package secretstore

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

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
