package secretstore

import (
	"context"
	"fmt"
)

// Promote makes a pending version current; the old current becomes previous
// and the old previous becomes deprecated. Promoting the current version
// again is a no-op, so a retried activity succeeds. Promoting any other
// stage is an ErrInvalidTransition.
func (f *File) Promote(ctx context.Context, versionID string) error {
	return f.transition(ctx, "promote", versionID, func(s *state, r *record) (bool, error) {
		switch r.Stage {
		case StageCurrent:
			return false, nil
		case StagePending:
		default:
			return false, fmt.Errorf("version %s is %s, only a pending version can be promoted: %w", r.ID, r.Stage, ErrInvalidTransition)
		}
		promote(s, r)
		return true, nil
	})
}

// promote makes the pending r current: the stage moves both stores make.
func promote(s *state, r *record) {
	if prev := s.byStage(StagePrevious); prev != nil {
		prev.Stage = StageDeprecated
		r.Demoted = prev.ID
	}
	if cur := s.byStage(StageCurrent); cur != nil {
		cur.Stage = StagePrevious
	}
	r.Stage = StageCurrent
}

// MarkFailed marks a pending version failed, so that a new rotation can
// start. It is idempotent. Current, previous and deprecated versions are
// refused with ErrInvalidTransition: they have served traffic, and rolling
// back a current version is RollBack's job.
func (f *File) MarkFailed(ctx context.Context, versionID string) error {
	return f.transition(ctx, "mark failed", versionID, func(_ *state, r *record) (bool, error) {
		if changed, ok := failPending(r); ok {
			return changed, nil
		}
		return false, fmt.Errorf("version %s is %s, only a pending version can be marked failed: %w", r.ID, r.Stage, ErrInvalidTransition)
	})
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
	return f.transition(ctx, "roll back", versionID, func(s *state, r *record) (bool, error) {
		prev, changed, done, err := s.rollBackTo(r)
		if done || err != nil {
			return changed, err
		}
		r.Stage = StageFailed
		prev.Stage = StageCurrent
		if d := s.byID(r.Demoted); d != nil && d.Stage == StageDeprecated && d.Value != "" {
			d.Stage = StagePrevious
		}
		return true, nil
	})
}

// transition runs fn on the record of versionID under the lock: the frame of
// every stage change.
func (f *File) transition(ctx context.Context, op, versionID string, fn func(s *state, r *record) (changed bool, err error)) error {
	err := f.update(ctx, func(s *state) (bool, error) {
		r := s.byID(versionID)
		if r == nil {
			return false, fmt.Errorf("%w: %q", ErrNotFound, versionID)
		}
		return fn(s, r)
	})
	return f.wrap(op, err)
}

// failPending is what MarkFailed and RollBack do alike: a failed version is
// left as it is (a retry) and a pending one becomes failed (nothing served
// it yet). ok reports that r was one of the two.
func failPending(r *record) (changed, ok bool) {
	switch r.Stage {
	case StageFailed:
		return false, true
	case StagePending:
		r.Stage = StageFailed
		return true, true
	}
	return false, false
}

// rollBackTo is the check both stores' RollBack make: a pending r is marked failed instead (done),
// a version other than the current one is refused, and otherwise the previous version to
// restore is returned.
func (s *state) rollBackTo(r *record) (prev *record, changed, done bool, err error) {
	if changed, ok := failPending(r); ok {
		return nil, changed, true, nil
	}
	if r.Stage != StageCurrent {
		return nil, false, false, fmt.Errorf("version %s is %s, only the current version can be rolled back: %w", r.ID, r.Stage, ErrInvalidTransition)
	}
	prev = s.byStage(StagePrevious)
	if prev == nil {
		return nil, false, false, fmt.Errorf("version %s has no previous version to restore: %w", r.ID, ErrInvalidTransition)
	}
	return prev, false, false, nil
}
