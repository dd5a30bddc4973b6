package secretstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// openTestStore opens a store for secret "jwt" in a fresh directory that
// OpenFile itself creates, so that directory creation is covered too.
func openTestStore(t *testing.T) (*File, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secrets")
	f, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	return f, dir
}

// stages returns id -> stage for every version, for compact assertions.
func stages(t *testing.T, f *File) map[string]Stage {
	t.Helper()
	vs, err := f.List(context.Background())
	require.NoError(t, err)
	out := make(map[string]Stage, len(vs))
	for _, v := range vs {
		out[v.ID] = v.Stage
	}
	return out
}

// rotate creates a pending version with key and promotes it.
func rotate(t *testing.T, f *File, key string) Version {
	t.Helper()
	ctx := context.Background()
	v, err := f.CreatePending(ctx, key)
	require.NoError(t, err)
	require.NoError(t, f.Promote(ctx, v.ID))
	v.Stage = StageCurrent
	return v
}

func TestOpenFile_CreatesDirAndFilesPrivate(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	_, err := f.CreatePending(ctx, "k1")
	require.NoError(t, err)

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "store dir")

	for _, name := range []string{"jwt.json", "jwt.lock", keyFileName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}

func TestOpenFile_PermissionsDoNotDependOnUmask(t *testing.T) {
	// A group/other-readable file left by someone else is replaced by a
	// 0600 one on the next write, because writes go through a new temp file.
	f, dir := openTestStore(t)
	ctx := context.Background()
	v, err := f.CreatePending(ctx, "k1")
	require.NoError(t, err)
	path := filepath.Join(dir, "jwt.json")
	require.NoError(t, os.Chmod(path, 0o644))

	require.NoError(t, f.Promote(ctx, v.ID))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestOpenFile_RejectsBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", ".", "..", "../x", "a/b", ".hidden", "-x", "a b", strings.Repeat("a", maxNameLen+1)} {
		_, err := OpenFile(dir, name)
		require.Error(t, err, "name %q", name)
		require.Contains(t, err.Error(), "invalid secret name")
	}
	for _, name := range []string{"jwt", "JWT_SECRET", "demo.backend-jwt", "a1"} {
		_, err := OpenFile(dir, name)
		require.NoError(t, err, "name %q", name)
	}
}

func TestOpenFile_DirIsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := OpenFile(path, "jwt")
	require.ErrorContains(t, err, "not a directory")
}

func TestCreatePending_GeneratesSecret(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()

	v, err := f.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)
	require.Regexp(t, `^v1-[0-9a-f]{8}$`, v.ID)
	require.Equal(t, StagePending, v.Stage)
	require.Equal(t, "wf-1/create", v.IdempotencyKey)
	require.WithinDuration(t, time.Now(), v.CreatedAt, time.Minute)
	require.Equal(t, time.UTC, v.CreatedAt.Location())

	value, err := f.Value(ctx, v.ID)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(value)
	require.NoError(t, err, "value must be base64url without padding")
	require.Len(t, raw, secretLen)
	require.Equal(t, f.Fingerprint(value), v.Fingerprint)

	got, ok, err := f.ByStage(ctx, StagePending)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, v, got, "returned version equals the stored one")
}

func TestCreatePending_Idempotent(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()

	v1, err := f.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)
	value1, err := f.Value(ctx, v1.ID)
	require.NoError(t, err)

	v2, err := f.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)
	require.Equal(t, v1, v2)
	value2, err := f.Value(ctx, v2.ID)
	require.NoError(t, err)
	require.Equal(t, value1, value2, "a retry must not generate a new secret")

	// Also across a fresh open, as after a worker restart.
	g, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	v3, err := g.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)
	require.Equal(t, v1, v3)

	vs, err := f.List(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestCreatePending_SameKeyAfterPromoteReturnsSameVersion(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v := rotate(t, f, "wf-1/create")

	again, err := f.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)
	require.Equal(t, v.ID, again.ID)
	require.Equal(t, StageCurrent, again.Stage, "the retry reports the version as it is now")
	require.Len(t, stages(t, f), 1)
}

func TestCreatePending_DifferentKeyWhilePending(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v, err := f.CreatePending(ctx, "wf-1/create")
	require.NoError(t, err)

	_, err = f.CreatePending(ctx, "wf-2/create")
	require.ErrorIs(t, err, ErrPendingExists)
	require.ErrorContains(t, err, v.ID, "the error names the pending version")
	require.ErrorContains(t, err, "wf-1/create", "the error names the rotation holding it")
	require.Len(t, stages(t, f), 1, "nothing was created")

	// Once resolved, a new rotation may start.
	require.NoError(t, f.MarkFailed(ctx, v.ID))
	w, err := f.CreatePending(ctx, "wf-2/create")
	require.NoError(t, err)
	require.Regexp(t, `^v2-`, w.ID)
}

func TestCreatePending_RejectsEmptyKeyAndImportKey(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	_, err := f.CreatePending(ctx, "")
	require.ErrorContains(t, err, "idempotency key is empty")

	_, err = f.Import(ctx, "wf-1/import", "existing-secret-value")
	require.NoError(t, err)
	_, err = f.CreatePending(ctx, "wf-1/import")
	require.ErrorIs(t, err, ErrIdempotencyConflict)
	require.Len(t, stages(t, f), 1)
}

func TestCreatePending_ConcurrentSameKey(t *testing.T) {
	f, dir := openTestStore(t)
	// A second File on the same dir has its own lock file descriptor, so
	// this exercises the flock as well as the mutex.
	g, err := OpenFile(dir, "jwt")
	require.NoError(t, err)

	const n = 32
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		store := f
		if i%2 == 1 {
			store = g
		}
		wg.Go(func() {
			v, err := store.CreatePending(context.Background(), "wf-1/create")
			ids[i], errs[i] = v.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	require.Len(t, stages(t, f), 1)
}

func TestCreatePending_ConcurrentDifferentKeys(t *testing.T) {
	f, dir := openTestStore(t)
	g, err := OpenFile(dir, "jwt")
	require.NoError(t, err)

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		store := f
		if i%2 == 1 {
			store = g
		}
		wg.Go(func() {
			_, errs[i] = store.CreatePending(context.Background(), "wf-"+string(rune('a'+i)))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, ErrPendingExists)
	}
	require.Equal(t, 1, won, "exactly one rotation may hold the pending slot")
	require.Len(t, stages(t, f), 1)
}

func TestPromote_Chain(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()

	v1 := rotate(t, f, "k1")
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent}, stages(t, f))

	v2 := rotate(t, f, "k2")
	require.Equal(t, map[string]Stage{v1.ID: StagePrevious, v2.ID: StageCurrent}, stages(t, f))

	v3 := rotate(t, f, "k3")
	require.Equal(t, map[string]Stage{v1.ID: StageDeprecated, v2.ID: StagePrevious, v3.ID: StageCurrent}, stages(t, f))

	cur, ok, err := f.ByStage(ctx, StageCurrent)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, v3.ID, cur.ID)
	prev, ok, err := f.ByStage(ctx, StagePrevious)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, v2.ID, prev.ID)
	_, ok, err = f.ByStage(ctx, StagePending)
	require.NoError(t, err)
	require.False(t, ok)

	vs, err := f.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{v1.ID, v2.ID, v3.ID}, []string{vs[0].ID, vs[1].ID, vs[2].ID}, "oldest first")

	for _, v := range []Version{v1, v2, v3} {
		_, err := f.Value(ctx, v.ID)
		require.NoError(t, err, "all values are still kept")
	}
}

func TestPromote_IdempotentAndRefusals(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	before := stages(t, f)
	require.NoError(t, f.Promote(ctx, v1.ID), "promoting the current version again is a no-op")
	require.Equal(t, before, stages(t, f))

	v2 := rotate(t, f, "k2")
	err := f.Promote(ctx, v1.ID)
	require.ErrorIs(t, err, ErrInvalidTransition, "previous cannot be promoted")

	v3, err := f.CreatePending(ctx, "k3")
	require.NoError(t, err)
	require.NoError(t, f.MarkFailed(ctx, v3.ID))
	require.ErrorIs(t, f.Promote(ctx, v3.ID), ErrInvalidTransition, "failed cannot be promoted")

	require.ErrorIs(t, f.Promote(ctx, "v9-deadbeef"), ErrNotFound)
	require.Equal(t, map[string]Stage{v1.ID: StagePrevious, v2.ID: StageCurrent, v3.ID: StageFailed}, stages(t, f))
}

func TestMarkFailed(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	v2 := rotate(t, f, "k2")
	v3 := rotate(t, f, "k3") // v1 deprecated
	p, err := f.CreatePending(ctx, "k4")
	require.NoError(t, err)

	require.NoError(t, f.MarkFailed(ctx, p.ID))
	require.NoError(t, f.MarkFailed(ctx, p.ID), "idempotent")
	got, ok, err := f.ByStage(ctx, StageFailed)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, p.ID, got.ID)

	require.ErrorIs(t, f.MarkFailed(ctx, v3.ID), ErrInvalidTransition, "current")
	require.ErrorIs(t, f.MarkFailed(ctx, v2.ID), ErrInvalidTransition, "previous")
	require.ErrorIs(t, f.MarkFailed(ctx, v1.ID), ErrInvalidTransition, "deprecated")
	require.ErrorIs(t, f.MarkFailed(ctx, "nope"), ErrNotFound)
	require.Equal(t, map[string]Stage{
		v1.ID: StageDeprecated, v2.ID: StagePrevious, v3.ID: StageCurrent, p.ID: StageFailed,
	}, stages(t, f))
}

func TestRollBack(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1, err := f.Import(ctx, "import", "the-running-secret")
	require.NoError(t, err)
	v2 := rotate(t, f, "k2")
	v3 := rotate(t, f, "k3")
	require.Equal(t, map[string]Stage{v1.ID: StageDeprecated, v2.ID: StagePrevious, v3.ID: StageCurrent}, stages(t, f))

	// Undo v3's promotion fully: v2 is current again and v1, which v3's
	// promotion deprecated, is previous again.
	require.NoError(t, f.RollBack(ctx, v3.ID))
	want := map[string]Stage{v1.ID: StagePrevious, v2.ID: StageCurrent, v3.ID: StageFailed}
	require.Equal(t, want, stages(t, f))

	require.NoError(t, f.RollBack(ctx, v3.ID), "idempotent")
	require.Equal(t, want, stages(t, f))

	// Rolling back a version that is no longer current would undo a later
	// successful rotation.
	require.ErrorIs(t, f.RollBack(ctx, v1.ID), ErrInvalidTransition)
	require.ErrorIs(t, f.RollBack(ctx, "nope"), ErrNotFound)

	require.NoError(t, f.RollBack(ctx, v2.ID))
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent, v2.ID: StageFailed, v3.ID: StageFailed}, stages(t, f))

	// v1 has nothing to go back to.
	err = f.RollBack(ctx, v1.ID)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.ErrorContains(t, err, "no previous version")
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent, v2.ID: StageFailed, v3.ID: StageFailed}, stages(t, f))

	value, err := f.Value(ctx, v1.ID)
	require.NoError(t, err)
	require.Equal(t, "the-running-secret", value)
}

func TestRollBack_PendingIsMarkedFailed(t *testing.T) {
	// A compensation may roll back a promotion that never happened.
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	p, err := f.CreatePending(ctx, "k2")
	require.NoError(t, err)
	require.NoError(t, f.RollBack(ctx, p.ID))
	require.NoError(t, f.RollBack(ctx, p.ID))
	require.Equal(t, map[string]Stage{v1.ID: StageCurrent, p.ID: StageFailed}, stages(t, f))
}

func TestRollBack_DoesNotRestorePrunedVersion(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1 := rotate(t, f, "k1")
	v2 := rotate(t, f, "k2")
	// Push v1 out of the value window while it is previous (kept), then
	// promote so that it becomes deprecated and is pruned.
	for i := range keepValues {
		p, err := f.CreatePending(ctx, "fail-"+string(rune('a'+i)))
		require.NoError(t, err)
		require.NoError(t, f.MarkFailed(ctx, p.ID))
	}
	_, err := f.Value(ctx, v1.ID)
	require.NoError(t, err, "previous is kept even outside the window")
	v3 := rotate(t, f, "k3")
	_, err = f.Value(ctx, v1.ID)
	require.ErrorIs(t, err, ErrValuePruned)

	require.NoError(t, f.RollBack(ctx, v3.ID))
	st := stages(t, f)
	require.Equal(t, StageCurrent, st[v2.ID])
	require.Equal(t, StageDeprecated, st[v1.ID], "a version without value cannot be previous")
	_, ok, err := f.ByStage(ctx, StagePrevious)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestImport(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	const running = "secret-the-backend-runs-with"

	v, err := f.Import(ctx, "wf-1/import", running)
	require.NoError(t, err)
	require.Equal(t, StageCurrent, v.Stage)
	require.Equal(t, f.Fingerprint(running), v.Fingerprint)
	value, err := f.Value(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, running, value)

	again, err := f.Import(ctx, "wf-1/import", running)
	require.NoError(t, err)
	require.Equal(t, v, again, "idempotent by key")

	other, err := f.Import(ctx, "wf-2/import", running)
	require.NoError(t, err)
	require.Equal(t, v, other, "same value as current: adopt it")

	_, err = f.Import(ctx, "wf-3/import", "a-different-secret")
	require.ErrorIs(t, err, ErrCurrentExists)
	require.ErrorContains(t, err, v.ID)

	_, err = f.Import(ctx, "wf-1/import", "a-different-secret")
	require.ErrorIs(t, err, ErrIdempotencyConflict)

	_, err = f.Import(ctx, "k", "")
	require.ErrorContains(t, err, "value is empty")
	_, err = f.Import(ctx, "", running)
	require.ErrorContains(t, err, "idempotency key is empty")

	require.Len(t, stages(t, f), 1)
}

func TestImport_AfterRotationAndKeyReuse(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1, err := f.Import(ctx, "import", "old-running-secret")
	require.NoError(t, err)
	rotate(t, f, "k2")

	// The original import retried late still returns its version.
	again, err := f.Import(ctx, "import", "old-running-secret")
	require.NoError(t, err)
	require.Equal(t, v1.ID, again.ID)
	require.Equal(t, StagePrevious, again.Stage)

	_, err = f.Import(ctx, "k2", "whatever-value")
	require.ErrorIs(t, err, ErrIdempotencyConflict, "key used by CreatePending")
}

func TestImport_WithPendingButNoCurrent(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	p, err := f.CreatePending(ctx, "k1")
	require.NoError(t, err)
	v, err := f.Import(ctx, "import", "running-secret")
	require.NoError(t, err)
	require.NoError(t, f.Promote(ctx, p.ID))
	require.Equal(t, map[string]Stage{p.ID: StageCurrent, v.ID: StagePrevious}, stages(t, f))
}

func TestPrune_KeepsMetadataAndProtectedValues(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	var vs []Version
	for i := range 9 {
		vs = append(vs, rotate(t, f, "k"+string(rune('a'+i))))
	}
	all, err := f.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 9, "metadata is never pruned")

	for i, v := range vs {
		_, err := f.Value(ctx, v.ID)
		if i < len(vs)-keepValues {
			require.ErrorIs(t, err, ErrValuePruned, "version %d", i+1)
		} else {
			require.NoError(t, err, "version %d", i+1)
		}
	}
	for _, v := range all[:4] {
		require.NotEmpty(t, v.Fingerprint, "fingerprints survive pruning")
	}
}

func TestValue_UnknownVersion(t *testing.T) {
	f, _ := openTestStore(t)
	_, err := f.Value(context.Background(), "v1-00000000")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestByStage_UnknownStage(t *testing.T) {
	f, _ := openTestStore(t)
	_, _, err := f.ByStage(context.Background(), Stage("AWSCURRENT"))
	require.ErrorContains(t, err, "unknown stage")
}

func TestFingerprint(t *testing.T) {
	f, dir := openTestStore(t)
	fp := f.Fingerprint("some value")
	require.Regexp(t, `^[0-9a-f]{16}$`, fp)
	require.Equal(t, fp, f.Fingerprint("some value"), "stable")
	require.NotEqual(t, fp, f.Fingerprint("some value!"), "depends on the value")

	g, err := OpenFile(dir, "other-secret")
	require.NoError(t, err)
	require.Equal(t, fp, g.Fingerprint("some value"), "one key per directory")
	h, err := OpenFile(dir, "jwt")
	require.NoError(t, err)
	require.Equal(t, fp, h.Fingerprint("some value"), "stable across reopen")

	other, _ := openTestStore(t)
	require.NotEqual(t, fp, other.Fingerprint("some value"), "differs per key file")
}

func TestFingerprint_CorruptKeyIsNotRegenerated(t *testing.T) {
	_, dir := openTestStore(t)
	path := filepath.Join(dir, keyFileName)
	require.NoError(t, os.WriteFile(path, []byte("short"), 0o600))
	_, err := OpenFile(dir, "jwt")
	require.ErrorContains(t, err, "corrupt")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "short", string(data))
}

func TestFingerprint_ConcurrentKeyCreation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	const n = 8
	fps := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f, err := OpenFile(dir, "jwt")
			if err != nil {
				fps[i] = err.Error()
				return
			}
			fps[i] = f.Fingerprint("x")
		})
	}
	wg.Wait()
	for i := range n {
		require.Equal(t, fps[0], fps[i], "every opener must end up with the same key")
	}
	require.Regexp(t, `^[0-9a-f]{16}$`, fps[0])
}

func TestErrorsNeverContainValues(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	const imported = "IMPORTED-secret-value-1234567890"
	const rejected = "REJECTED-secret-value-0987654321"

	_, err := f.Import(ctx, "import", imported)
	require.NoError(t, err)
	p, err := f.CreatePending(ctx, "k1")
	require.NoError(t, err)
	generated, err := f.Value(ctx, p.ID)
	require.NoError(t, err)

	var errs []error
	collect := func(err error) {
		require.Error(t, err)
		errs = append(errs, err)
	}
	_, err = f.Import(ctx, "other", rejected)
	collect(err)
	_, err = f.Import(ctx, "import", rejected)
	collect(err)
	_, err = f.Import(ctx, "k1", rejected)
	collect(err)
	_, err = f.CreatePending(ctx, "k2")
	collect(err)
	collect(f.RollBack(ctx, p.ID+"x"))
	require.NoError(t, f.Promote(ctx, p.ID))
	collect(f.MarkFailed(ctx, p.ID))
	collect(f.Promote(ctx, "nope"))

	// A corrupt file: the JSON error would quote the offending character.
	path := filepath.Join(dir, "jwt.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	broken := strings.Replace(string(data), `"`+generated+`"`, generated, 1)
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))
	_, err = OpenFile(dir, "jwt")
	collect(err)
	_, err = f.Value(ctx, p.ID)
	collect(err)

	for _, err := range errs {
		msg := err.Error()
		for _, secret := range []string{imported, rejected, generated} {
			require.NotContains(t, msg, secret)
			require.NotContains(t, msg, secret[:8])
		}
		require.NotRegexp(t, regexp.MustCompile(`invalid character`), msg)
	}
}

func TestCorruptFileIsReportedNotOverwritten(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	rotate(t, f, "k1")
	path := filepath.Join(dir, "jwt.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	truncated := data[:len(data)/2]
	require.NoError(t, os.WriteFile(path, truncated, 0o600))

	_, err = OpenFile(dir, "jwt")
	require.ErrorContains(t, err, "corrupt")
	_, err = f.CreatePending(ctx, "k2")
	require.ErrorContains(t, err, "corrupt")
	require.Error(t, f.Promote(ctx, "v1"))

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, truncated, after, "a corrupt file must be left for a human")
}

func TestFileOfAnotherSecretIsRejected(t *testing.T) {
	f, dir := openTestStore(t)
	rotate(t, f, "k1")
	data, err := os.ReadFile(filepath.Join(dir, "jwt.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.json"), data, 0o600))
	_, err = OpenFile(dir, "other")
	require.ErrorContains(t, err, `belongs to secret "jwt"`)
}

func TestInconsistentFileIsRejected(t *testing.T) {
	f, dir := openTestStore(t)
	rotate(t, f, "k1")
	rotate(t, f, "k2")
	path := filepath.Join(dir, "jwt.json")
	var s state
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &s))
	s.Versions[0].Stage = StageCurrent // two current versions
	data, err = json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = OpenFile(dir, "jwt")
	require.ErrorContains(t, err, "both current")
}

func TestContextIsHonoured(t *testing.T) {
	f, _ := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.CreatePending(ctx, "k1")
	require.ErrorIs(t, err, context.Canceled)
	_, err = f.List(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, stages(t, f))
}

func TestLockWaitHonoursContext(t *testing.T) {
	f, _ := openTestStore(t)
	// Hold the lock as another process would.
	unlock, err := flockFile(context.Background(), f.lockPath)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = f.CreatePending(ctx, "k1")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Reads do not need the lock.
	_, err = f.List(context.Background())
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := f.CreatePending(context.Background(), "k1")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("CreatePending finished while the lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	require.NoError(t, <-done)
	require.Len(t, stages(t, f), 1)
}

func TestCheckWritable(t *testing.T) {
	f, dir := openTestStore(t)
	ctx := context.Background()
	require.NoError(t, f.CheckWritable(ctx))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "probe", "probe removed")
	}
	require.Empty(t, tempFiles(t, dir), "no temp file left")

	// Works as root too, where permission bits are not enforced.
	require.NoError(t, os.RemoveAll(dir))
	require.Error(t, f.CheckWritable(ctx))

	if os.Geteuid() != 0 {
		g, dir := openTestStore(t)
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		require.Error(t, g.CheckWritable(ctx))
	}
}

func TestErrorsAreWrappedWithContext(t *testing.T) {
	f, _ := openTestStore(t)
	err := f.Promote(context.Background(), "v7-abc")
	require.True(t, errors.Is(err, ErrNotFound))
	require.Equal(t, `secretstore jwt: promote: version not found: "v7-abc"`, err.Error())
}
