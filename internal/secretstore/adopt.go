package secretstore

import (
	"context"
	"errors"
	"fmt"
)

// ImportOver adopts value as the current version even when a different
// current version exists. It is for an emergency that finds the env sink
// holding a value the store does not have as current (drift): the rotation
// must start from what is live, so that its rollback restores what was live.
//
// The old current version becomes previous and the old previous deprecated,
// as a promotion would do, and the new version records the one it demoted so
// that RollBack can undo the adoption. A current version with the same value
// is returned as it is; with no current version it behaves like Import.
//
// It is idempotent by key like Import (the same key with another value, or a
// key used by another operation, is an ErrIdempotencyConflict), and it
// refuses while a version is pending (ErrPendingExists): a half-done
// rotation must be settled first.
func (f *File) ImportOver(ctx context.Context, idempotencyKey, value string) (Version, error) {
	if idempotencyKey == "" {
		return Version{}, f.wrap("import over", errors.New("idempotency key is empty"))
	}
	if value == "" {
		return Version{}, f.wrap("import over", errors.New("value is empty"))
	}
	var out Version
	err := f.update(ctx, func(s *state) (bool, error) {
		if v, done, err := f.importedBefore(s, idempotencyKey, value); done {
			out = v
			return false, err
		}
		if p := s.byStage(StagePending); p != nil {
			return false, fmt.Errorf("version %s (key %q) is pending; promote it or mark it failed first: %w", p.ID, p.IdempotencyKey, ErrPendingExists)
		}
		cur := s.byStage(StageCurrent)
		if cur != nil && equalValues(cur.Value, value) {
			out = cur.Version
			return false, nil
		}
		var demoted string
		if cur != nil {
			if prev := s.byStage(StagePrevious); prev != nil {
				prev.Stage = StageDeprecated
				demoted = prev.ID
			}
			cur.Stage = StagePrevious
		}
		r, err := f.newRecord(s, opImport, idempotencyKey, StageCurrent, value)
		if err != nil {
			return false, err
		}
		r.Demoted = demoted
		out = r.Version
		return true, nil
	})
	if err != nil {
		return Version{}, f.wrap("import over", err)
	}
	return out, nil
}
