// Package atomicfile writes files so that a crash at any point leaves either
// the old or the new content, never a mix or a truncated file: the data goes
// to a temp file in the same directory, which is fsynced and then renamed (or
// hard-linked) into place, and the directory is fsynced so that the new entry
// survives a power loss too.
//
// Errors name the files involved but never contain the data written, which
// may be a secret.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/authops/authops/internal/faults"
)

// DefaultPerm is the mode of a new file when none is given: files written
// through this package usually hold secrets.
const DefaultPerm fs.FileMode = 0o600

// tempMarker sits between the target's base name and the random suffix of a
// temp file, so that stale temp files can be recognised and removed.
const tempMarker = ".tmp-"

// TempPattern is the os.CreateTemp pattern (and filepath.Glob pattern) of the
// temp files written for path: "." + base name + ".tmp-*".
func TempPattern(path string) string {
	return "." + filepath.Base(path) + tempMarker + "*"
}

// Options tune Write. The zero value writes a 0600 file.
type Options struct {
	// Perm is the mode of the written file; 0 means DefaultPerm. It is set
	// with chmod, so the umask does not narrow it.
	Perm fs.FileMode

	// KeepOwnerAndMode makes a file that already exists keep its mode
	// (instead of Perm) and, when they differ from the writer's, its owner
	// and group, so that a service running as another user can still read
	// it. If the owner cannot be kept the write fails and the old file stays.
	// A symlink at path is followed for the mode and owner, but replaced by
	// the rename: resolve it first to rewrite its target.
	KeepOwnerAndMode bool

	// BeforeRename is a test hook (nil in production) that runs after the
	// temp file is complete and durable and before the rename. If it returns
	// an error, the temp file is removed and the error is returned as is.
	// The temp file is removed explicitly rather than in a defer, so that a
	// hook calling runtime.Goexit leaves it behind exactly as a crashed
	// process would.
	BeforeRename func(tmpPath string) error
}

// Write replaces path with data atomically: a temp file in the same
// directory (see TempPattern) gets the mode and content and is fsynced, then
// renamed over path, then the directory is fsynced so that the rename itself
// is durable. On failure before the rename path is untouched and the temp
// file is removed.
func Write(path string, data []byte, o Options) error {
	mode := o.Perm
	if mode == 0 {
		mode = DefaultPerm
	}
	var owner fs.FileInfo // whose owner the new file gets; nil: the writer's
	if o.KeepOwnerAndMode {
		fi, err := os.Stat(path)
		switch {
		case err == nil:
			owner = fi
			mode = fi.Mode().Perm()
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("stat file: %w", err)
		}
	}

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpPath := tmp.Name()
	if err := faults.Inject("write", path); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmpPath)
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := writeTemp(tmp, data, mode, owner); err != nil {
		_ = os.Remove(tmpPath)
		return err
	}
	if o.BeforeRename != nil {
		if err := o.BeforeRename(tmpPath); err != nil {
			_ = os.Remove(tmpPath)
			return err
		}
	}
	if err := os.Rename(tmpPath, path); err != nil {
		_ = os.Remove(tmpPath)
		return fmt.Errorf("rename temp file: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("rename done but not durable: %w", err)
	}
	faults.After("write", path)
	return nil
}

// Create writes path with data (mode perm; 0 means DefaultPerm) only if path
// does not exist yet, and reports whether it created it. The temp file is
// written and fsynced first, then hard-linked into place: unlike rename, link
// refuses to replace an existing file, so a file that appears meanwhile (a
// concurrent Create, or a rotated secret) is never overwritten; then created
// is false and err nil. Anything at path, even a dangling symlink, counts as
// existing.
//
// created is true with an error when the file is in place but the temp name
// could not be removed or the directory not be fsynced.
func Create(path string, data []byte, perm fs.FileMode) (created bool, err error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("stat file: %w", err)
	}
	if perm == 0 {
		perm = DefaultPerm
	}

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return false, fmt.Errorf("create temp file: %w", err)
	}
	tmpPath := tmp.Name()
	defer os.Remove(tmpPath) // on failure; after the link it is removed below
	if err := writeTemp(tmp, data, perm, nil); err != nil {
		return false, err
	}
	if err := os.Link(tmpPath, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("link temp file into place: %w", err)
	}
	if err := os.Remove(tmpPath); err != nil {
		return true, fmt.Errorf("remove temp file: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return true, fmt.Errorf("created but not durable: %w", err)
	}
	return true, nil
}

// writeTemp gives tmp the owner of owner (when not nil), mode and data,
// fsyncs it and closes it. tmp is closed on every path; removing it on
// failure is the caller's job.
func writeTemp(tmp *os.File, data []byte, mode fs.FileMode, owner fs.FileInfo) error {
	err := func() error {
		if owner != nil {
			if err := keepOwner(tmp, owner); err != nil {
				return err
			}
		}
		// Chmod after chown, which may clear setuid/setgid-like bits. Even
		// where CreateTemp's 0600 is wanted: the umask or a future Go could
		// change it, and secrets must not be readable by anybody else.
		if err := tmp.Chmod(mode); err != nil {
			return fmt.Errorf("chmod temp file: %w", err)
		}
		if _, err := tmp.Write(data); err != nil {
			return fmt.Errorf("write temp file: %w", err)
		}
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("fsync temp file: %w", err)
		}
		return nil
	}()
	if err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	return nil
}

// keepOwner gives tmp the owner and group of existing when they differ.
func keepOwner(tmp *os.File, existing fs.FileInfo) error {
	want, ok := existing.Sys().(*syscall.Stat_t)
	if !ok {
		return nil // no ownership information on this platform
	}
	fi, err := tmp.Stat()
	if err != nil {
		return fmt.Errorf("stat temp file: %w", err)
	}
	got, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || got.Uid == want.Uid && got.Gid == want.Gid {
		return nil
	}
	if err := tmp.Chown(int(want.Uid), int(want.Gid)); err != nil {
		return fmt.Errorf("keep owner %d:%d of the file: %w", want.Uid, want.Gid, err)
	}
	return nil
}

// RemoveStaleTemps removes the temp files of path (see TempPattern) that a
// crashed writer left behind. The caller must make sure that no other writer
// of path is mid-write, for example by holding a lock.
func RemoveStaleTemps(path string) error {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), TempPattern(path)))
	if err != nil {
		return fmt.Errorf("find stale temp files: %w", err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale temp file: %w", err)
		}
	}
	return nil
}

// SyncDir fsyncs a directory so that renames, links and removals in it
// survive a power loss.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for fsync: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("fsync dir: %w", err)
	}
	return d.Close()
}
