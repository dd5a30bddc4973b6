package envfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file, never a truncated one that the backend would start
// with: temp file in the same directory, fsync, rename, fsync the directory.
//
// The new file gets the mode of existing (newFileMode when existing is nil)
// and, when it differs from the writer's, its owner and group too: the
// backend may run as another user and must still be able to read the file.
// If the ownership cannot be kept the write fails and the old file stays.
func writeFileAtomic(path string, data []byte, existing fs.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpPath := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(tmpPath)
		return err
	}

	mode := newFileMode
	if existing != nil {
		mode = existing.Mode().Perm()
		if err := keepOwner(tmp, existing); err != nil {
			return fail(err)
		}
	}
	// Chmod after chown: chown may clear setuid/setgid-like bits, and the
	// umask must not narrow or the default widen the mode.
	if err := tmp.Chmod(mode); err != nil {
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
	if err := os.Rename(tmpPath, path); err != nil {
		_ = os.Remove(tmpPath)
		return fmt.Errorf("rename temp file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("rename done but not durable: %w", err)
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

// syncDir fsyncs a directory so that the rename survives a power loss.
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
