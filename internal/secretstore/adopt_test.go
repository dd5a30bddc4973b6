package secretstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportOver_AdoptsDriftedValueAsCurrent: the live value becomes current, the old current
// previous and the old previous deprecated; a rollback of the adopted version undoes it all.
func TestImportOver_AdoptsDriftedValueAsCurrent(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v1, err := f.Import(ctx, "wf-0/adopt", "first-running-secret")
	require.NoError(t, err)
	v2 := rotate(t, f, "wf-1/create")
	require.Equal(t, map[string]Stage{v1.ID: StagePrevious, v2.ID: StageCurrent}, stages(t, f))

	const live = "a-value-someone-put-in-the-env-file"
	a, err := f.ImportOver(ctx, "wf-2/adopt-live", live)
	require.NoError(t, err)
	require.Equal(t, StageCurrent, a.Stage)
	require.Equal(t, f.Fingerprint(live), a.Fingerprint)
	require.Equal(t, map[string]Stage{v1.ID: StageDeprecated, v2.ID: StagePrevious, a.ID: StageCurrent}, stages(t, f))
	got, err := f.Value(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, live, got)

	again, err := f.ImportOver(ctx, "wf-2/adopt-live", live)
	require.NoError(t, err)
	require.Equal(t, a, again, "idempotent by key")
	same, err := f.ImportOver(ctx, "wf-3/adopt-live", live)
	require.NoError(t, err)
	require.Equal(t, a.ID, same.ID, "the current version already holds the value")
	require.Len(t, stages(t, f), 3)

	_, err = f.ImportOver(ctx, "wf-2/adopt-live", "another-value")
	require.ErrorIs(t, err, ErrIdempotencyConflict)
	_, err = f.ImportOver(ctx, "wf-1/create", live)
	require.ErrorIs(t, err, ErrIdempotencyConflict, "key used by CreatePending")

	// A rotation from the adopted version, rolled back, returns to it.
	n, err := f.CreatePending(ctx, "wf-4/create")
	require.NoError(t, err)
	_, err = f.ImportOver(ctx, "wf-5/adopt-live", "yet-another-value")
	require.ErrorIs(t, err, ErrPendingExists, "a pending version is settled first")
	require.NoError(t, f.Promote(ctx, n.ID))
	require.NoError(t, f.RollBack(ctx, n.ID))
	require.Equal(t, StageCurrent, stages(t, f)[a.ID])

	// Undoing the adoption itself restores the version it replaced and the one it demoted.
	f2, _ := openTestStore(t)
	w1, err := f2.Import(ctx, "i", "one")
	require.NoError(t, err)
	w2 := rotate(t, f2, "c")
	b, err := f2.ImportOver(ctx, "o", "drifted")
	require.NoError(t, err)
	require.NoError(t, f2.RollBack(ctx, b.ID))
	require.Equal(t, map[string]Stage{w1.ID: StagePrevious, w2.ID: StageCurrent, b.ID: StageFailed}, stages(t, f2))
}

func TestImportOver_EmptyStoreAndBadInput(t *testing.T) {
	f, _ := openTestStore(t)
	ctx := context.Background()
	v, err := f.ImportOver(ctx, "k", "running")
	require.NoError(t, err)
	require.Equal(t, map[string]Stage{v.ID: StageCurrent}, stages(t, f))
	_, err = f.ImportOver(ctx, "", "x")
	require.ErrorContains(t, err, "idempotency key is empty")
	_, err = f.ImportOver(ctx, "k2", "")
	require.ErrorContains(t, err, "value is empty")
}
