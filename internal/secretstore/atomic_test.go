package secretstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/internal/atomicfile"
)

func TestAtomicWrite_CrashBeforeRename(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	v2, err := f.CreatePending(ctx, "k2")
	require.NoError(t, err)
	path := filepath.Join(dir, "jwt.json")
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	// Simulate the process dying after the temp file is durable and before
	// the rename: Goexit stops the goroutine without returning through the
	// write path's cleanup, like a crash, while the deferred unlocks still
	// run, like the kernel releasing a dead process's flock.
	var tmpPath string
	f.beforeRename = func(p string) error {
		tmpPath = p
		runtime.Goexit()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Promote(ctx, v2.ID)
	}()
	<-done

	require.NotEmpty(t, tmpPath, "the hook ran")
	leftover, err := os.ReadFile(tmpPath)
	require.NoError(t, err, "the crash left the temp file behind")
	var s state
	require.NoError(t, json.Unmarshal(leftover, &s), "the temp file was complete")
	require.Equal(t, StageCurrent, s.byID(v2.ID).Stage, "it held the new state")

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "the old content is intact")

	// A fresh store (the restarted worker) reads the old state and cleans up.
	g, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent, v2.ID: StagePending}, stages(t, g))
	_, err = os.Stat(tmpPath)
	require.ErrorIs(t, err, os.ErrNotExist, "the stale temp file is removed on open")
	for _, v := range []Version{v1, v2} {
		_, err := g.Value(ctx, v.ID)
		require.NoError(t, err)
	}

	// The retried step succeeds.
	require.NoError(t, g.Promote(ctx, v2.ID))
	require.Equal(t, map[string]Stage{v1.ID: StagePrevious, v2.ID: StageCurrent}, stages(t, g))

	// The crashed File's locks were released too.
	f.beforeRename = nil
	_, err = f.List(ctx)
	require.NoError(t, err)
	require.NoError(t, f.CheckWritable(ctx))
}

func TestAtomicWrite_PartialTempFileDoesNotBreakOpen(t *testing.T) {
	f, dir := openTestStore(t)
	v1 := rotate(t, f, "k1")
	// A crash in the middle of writing the temp file leaves garbage.
	tmp, err := os.CreateTemp(dir, atomicfile.TempPattern(filepath.Join(dir, "jwt.json")))
	require.NoError(t, err)
	stale := tmp.Name()
	_, err = tmp.WriteString(`{"format":1,"name":"jw`)
	require.NoError(t, err)
	require.NoError(t, tmp.Close())

	g, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent}, stages(t, g))
	_, err = os.Stat(stale)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestAtomicWrite_FailureBeforeRenameCleansUp(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	f.beforeRename = func(string) error { return errors.New("disk on fire") }

	_, err := f.CreatePending(ctx, "k2")
	require.ErrorContains(t, err, "disk on fire")
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent}, stages(t, f))
	require.Empty(t, tempFiles(t, dir), "a failed write leaves no temp file")

	// The retry with the same key then generates once and succeeds.
	f.beforeRename = nil
	v2, err := f.CreatePending(ctx, "k2")
	require.NoError(t, err)
	require.Regexp(t, `^v2-`, v2.ID)
}

// tempFiles lists the temp files of atomic writes (of any target) in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, atomicfile.TempPattern("*")))
	require.NoError(t, err)
	return matches
}

// childDirEnv tells the test binary it runs as a child process of
// TestCreatePending_ConcurrentProcesses.
const childDirEnv = "SECRETSTORE_TEST_CHILD_DIR"

func TestCreatePending_ConcurrentProcesses(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		f, err := OpenFile(dir, "jwt")
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.CreatePending(context.Background(), "wf-1/create")
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("ID=" + v.ID + "\n")
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}

	// Separate processes share only the directory: this is the flock's job,
	// and also races the creation of the fingerprint key file.
	dir := filepath.Join(t.TempDir(), "secrets")
	const n = 6
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCreatePending_ConcurrentProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()

	var ids []string
	for i := range n {
		require.NoError(t, errs[i], string(outs[i]))
		sc := bufio.NewScanner(bytes.NewReader(outs[i]))
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ID="); ok {
				ids = append(ids, id)
			}
		}
	}
	require.Len(t, ids, n)
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	f, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	require.Len(t, stages(t, f), 1)
}
