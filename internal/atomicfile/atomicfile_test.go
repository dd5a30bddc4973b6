package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// secret is written in the tests that check errors never carry the data.
const secret = "s3cr3t-value-that-must-not-leak"

// writeExisting creates path with content and mode (not filtered by the umask).
func writeExisting(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode))
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// tempFiles lists the temp files of any target in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, TempPattern("*")))
	require.NoError(t, err)
	return matches
}

func TestTempPattern(t *testing.T) {
	require.Equal(t, ".jwt.json.tmp-*", TempPattern("/some/dir/jwt.json"))
	ok, err := filepath.Match(TempPattern("/d/jwt.json"), ".jwt.json.tmp-123456")
	require.NoError(t, err)
	require.True(t, ok)
}

func TestWrite_ReplacesWith0600ByDefault(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "file.json")
	writeExisting(t, p, "old", 0o644)

	require.NoError(t, Write(p, []byte("new"), Options{}))
	require.Equal(t, "new", readString(t, p))
	require.Equal(t, fs.FileMode(0o600), perm(t, p), "the old mode is not kept without KeepOwnerAndMode")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp file left")
}

func TestWrite_CreatesWithPermRegardlessOfUmask(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644} {
		p := filepath.Join(dir, fmt.Sprintf("file-%o", mode))
		require.NoError(t, Write(p, []byte("x"), Options{Perm: mode}))
		require.Equal(t, mode, perm(t, p))
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(dir, "umask")
	require.NoError(t, Write(p, []byte("x"), Options{Perm: 0o640}))
	require.Equal(t, fs.FileMode(0o640), perm(t, p), "chmod, not the umask, decides")
}

func TestWrite_ReplacesTheInode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "file")
	writeExisting(t, p, "old", 0o600)
	// A reader holding the old file keeps seeing the complete old content.
	r, err := os.Open(p)
	require.NoError(t, err)
	defer r.Close()

	require.NoError(t, Write(p, []byte("new"), Options{}))
	buf := make([]byte, 16)
	n, err := r.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "old", string(buf[:n]))
	require.Equal(t, "new", readString(t, p))
}

func TestWrite_CrashBeforeRenameLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jwt.json")
	writeExisting(t, p, "old", 0o600)

	// Simulate the process dying after the temp file is durable and before
	// the rename: Goexit stops the goroutine without returning through
	// Write's cleanup, like a crash.
	var tmpPath string
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Write(p, []byte("new"), Options{BeforeRename: func(tmp string) error {
			tmpPath = tmp
			runtime.Goexit()
			return nil
		}})
	}()
	<-done

	require.NotEmpty(t, tmpPath, "the hook ran")
	require.Equal(t, "old", readString(t, p), "the old content is intact")
	require.Equal(t, "new", readString(t, tmpPath), "the crash left the complete temp file behind")
	require.Equal(t, fs.FileMode(0o600), perm(t, tmpPath), "the leftover is private too")
	require.Equal(t, []string{tmpPath}, tempFiles(t, dir))

	// The restarted writer cleans up and writes again.
	require.NoError(t, RemoveStaleTemps(p))
	require.Empty(t, tempFiles(t, dir))
	require.Equal(t, "old", readString(t, p))
	require.NoError(t, Write(p, []byte("new"), Options{}))
	require.Equal(t, "new", readString(t, p))
}

func TestWrite_HookErrorRemovesTempAndKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jwt.json")
	writeExisting(t, p, "old", 0o600)
	fire := errors.New("disk on fire")

	err := Write(p, []byte("new"), Options{BeforeRename: func(tmp string) error {
		require.Equal(t, "new", readString(t, tmp), "the hook sees the complete temp file")
		return fire
	}})
	require.Same(t, fire, err, "the hook's error is returned as is")
	require.Equal(t, "old", readString(t, p))
	require.Empty(t, tempFiles(t, dir), "a failed write leaves no temp file")
}

func TestWrite_FailuresLeaveNothingBehind(t *testing.T) {
	dir := t.TempDir()

	err := Write(filepath.Join(dir, "missing", "file"), []byte(secret), Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)

	// A directory where the file should be makes the rename fail.
	target := filepath.Join(dir, "isdir")
	require.NoError(t, os.Mkdir(target, 0o700))
	err = Write(target, []byte(secret), Options{})
	require.ErrorContains(t, err, "rename temp file")
	require.NotContains(t, err.Error(), secret)
	fi, err := os.Stat(target)
	require.NoError(t, err)
	require.True(t, fi.IsDir(), "the target is unchanged")
	require.Empty(t, tempFiles(t, dir))
}

func TestWrite_KeepOwnerAndMode_KeepsMode(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644, 0o400} {
		p := filepath.Join(dir, fmt.Sprintf("file-%o", mode))
		writeExisting(t, p, "old", mode)
		require.NoError(t, Write(p, []byte("new"), Options{Perm: 0o600, KeepOwnerAndMode: true}))
		require.Equal(t, "new", readString(t, p))
		require.Equal(t, mode, perm(t, p))
	}
	require.Empty(t, tempFiles(t, dir))
}

func TestWrite_KeepOwnerAndMode_NewFileGetsPerm(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new")
	require.NoError(t, Write(p, []byte("x"), Options{KeepOwnerAndMode: true}))
	require.Equal(t, fs.FileMode(0o600), perm(t, p))

	q := filepath.Join(dir, "new-640")
	require.NoError(t, Write(q, []byte("x"), Options{Perm: 0o640, KeepOwnerAndMode: true}))
	require.Equal(t, fs.FileMode(0o640), perm(t, q))
}

func TestWrite_KeepOwnerAndMode_KeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another user")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "file")
	writeExisting(t, p, "old", 0o640)
	const uid, gid = 65534, 65534
	require.NoError(t, os.Chown(p, uid, gid))

	require.NoError(t, Write(p, []byte("new"), Options{KeepOwnerAndMode: true}))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(uid), st.Uid)
	require.Equal(t, uint32(gid), st.Gid)
	require.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
	require.Equal(t, "new", readString(t, p))

	// Without the option the writer owns the new file.
	require.NoError(t, Write(p, []byte("newer"), Options{}))
	fi, err = os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, uint32(os.Geteuid()), fi.Sys().(*syscall.Stat_t).Uid)
}

func TestCreate_CreatesOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "admin.token")

	created, err := Create(p, []byte("first"), 0)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "first", readString(t, p))
	require.Equal(t, fs.FileMode(0o600), perm(t, p))

	created, err = Create(p, []byte("second"), 0o644)
	require.NoError(t, err)
	require.False(t, created, "an existing file is never replaced")
	require.Equal(t, "first", readString(t, p))
	require.Equal(t, fs.FileMode(0o600), perm(t, p), "nor its mode changed")
	require.Empty(t, tempFiles(t, dir))
}

func TestCreate_Perm(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	created, err := Create(p, []byte("x"), 0o640)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, fs.FileMode(0o640), perm(t, p))
}

func TestCreate_AnythingAtPathCountsAsExisting(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), link))
	created, err := Create(link, []byte("x"), 0)
	require.NoError(t, err)
	require.False(t, created)
	_, err = os.Stat(filepath.Join(dir, "nowhere"))
	require.ErrorIs(t, err, fs.ErrNotExist, "the link is not followed")

	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o700))
	created, err = Create(sub, []byte("x"), 0)
	require.NoError(t, err)
	require.False(t, created)
	require.Empty(t, tempFiles(t, dir))
}

func TestCreate_ConcurrentCallersOneWins(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		p := filepath.Join(dir, "key")
		const n = 8
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				created[i], errs[i] = Create(p, []byte(fmt.Sprintf("writer-%d", i)), 0)
			})
		}
		wg.Wait()

		winner := -1
		for i := range n {
			require.NoError(t, errs[i])
			if created[i] {
				require.Equal(t, -1, winner, "only one caller creates the file")
				winner = i
			}
		}
		require.NotEqual(t, -1, winner)
		require.Equal(t, fmt.Sprintf("writer-%d", winner), readString(t, p), "the winner's content is never overwritten")
		require.Empty(t, tempFiles(t, dir))
	}
}

func TestCreate_ErrorsDoNotCarryData(t *testing.T) {
	created, err := Create(filepath.Join(t.TempDir(), "missing", "file"), []byte(secret), 0)
	require.Error(t, err)
	require.False(t, created)
	require.NotContains(t, err.Error(), secret)
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jwt.json")
	require.NoError(t, RemoveStaleTemps(p), "nothing to remove is fine")

	var stale []string
	for range 2 {
		f, err := os.CreateTemp(dir, TempPattern(p))
		require.NoError(t, err)
		_, err = f.WriteString(`{"partial`)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		stale = append(stale, f.Name())
	}
	other, err := os.CreateTemp(dir, TempPattern(filepath.Join(dir, "other.json")))
	require.NoError(t, err)
	require.NoError(t, other.Close())
	writeExisting(t, p, "data", 0o600)

	require.NoError(t, RemoveStaleTemps(p))
	for _, s := range stale {
		_, err := os.Stat(s)
		require.ErrorIs(t, err, fs.ErrNotExist)
	}
	require.Equal(t, []string{other.Name()}, tempFiles(t, dir), "temp files of other targets stay")
	require.Equal(t, "data", readString(t, p))
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, SyncDir(t.TempDir()))
	require.Error(t, SyncDir(filepath.Join(t.TempDir(), "missing")))
}
