package secretstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// tmpMarker sits between the target's base name and the random suffix of a
// temp file, so that stale temp files can be recognised and removed.
const tmpMarker = ".tmp-"

// tmpPattern is the os.CreateTemp pattern for temp files of target.
func tmpPattern(target string) string {
	return "." + filepath.Base(target) + tmpMarker + "*"
}

// writeFileAtomic replaces target with data so that a crash at any point
// leaves either the old or the new content, never a mix: write a temp file in
// the same directory, fsync it, rename it over target, fsync the directory so
// the rename itself is durable.
//
// beforeRename is a test hook (nil in production) that runs after the temp
// file is durable and before the rename. On the error path the temp file is
// removed explicitly rather than in a defer, so that a test hook calling
// runtime.Goexit leaves it behind exactly as a crashed process would.
func writeFileAtomic(target string, data []byte, beforeRename func(tmpPath string) error) error {
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, tmpPattern(target))
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpPath := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(tmpPath)
		return err
	}
	// CreateTemp already uses 0600, but the umask or a future Go could change
	// that; secrets must not be readable by anybody else.
	if err := tmp.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("chmod temp file: %w", err))
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(fmt.Errorf("write temp file: %w", err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("fsync temp file: %w", err))
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmpPath)
		return fmt.Errorf("close temp file: %w", err)
	}
	if beforeRename != nil {
		if err := beforeRename(tmpPath); err != nil {
			_ = os.Remove(tmpPath)
			return err
		}
	}
	if err := os.Rename(tmpPath, target); err != nil {
		_ = os.Remove(tmpPath)
		return fmt.Errorf("rename temp file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("rename done but not durable: %w", err)
	}
	return nil
}

// removeStaleTemps removes temp files of target left behind by a crash. The
// caller must hold the lock, so no other writer can be mid-write.
func removeStaleTemps(target string) error {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(target), tmpPattern(target)))
	if err != nil {
		return fmt.Errorf("find stale temp files: %w", err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale temp file: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs a directory so that renames and new entries in it survive a
// power loss.
func syncDir(dir string) error {
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

// lockPollInterval is how often a blocked lock attempt retries. flock has no
// timeout, so polling with LOCK_NB is what lets a waiting caller honour ctx.
const lockPollInterval = 5 * time.Millisecond

// flockFile takes an exclusive flock on path (created 0600 if missing) and
// returns the function that releases it. flock locks belong to the open file
// description, so two opens conflict even inside one process; that is what
// makes it safe for separate File values and separate processes.
func flockFile(ctx context.Context, path string) (unlock func(), err error) {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	fd := int(lf.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = lf.Close()
			return nil, fmt.Errorf("flock: %w", err)
		}
		t := time.NewTimer(lockPollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = lf.Close()
			return nil, fmt.Errorf("wait for lock: %w", ctx.Err())
		case <-t.C:
		}
	}
	return func() {
		// Closing the descriptor releases the lock as well; the explicit
		// unlock just makes the intent obvious.
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = lf.Close()
	}, nil
}
