package secretstore

import (
	"context"
	"errors"
	"fmt"

	vault "github.com/hashicorp/vault/api"
)

// CreatePending generates a new secret (as File.CreatePending) and writes it as a new KV
// version labelled pending. Readers of the store never see it as current before Promote.
func (v *Vault) CreatePending(ctx context.Context, idempotencyKey string) (Version, error) {
	if idempotencyKey == "" {
		return Version{}, v.wrap("create pending", errors.New("idempotency key is empty"))
	}
	var added *record
	var out Version
	err := v.update(ctx, idempotencyKey, func(s *vaultState) (bool, error) {
		found, reuse, err := s.beforeCreate(idempotencyKey)
		if err != nil || reuse {
			out = found
			return false, err
		}
		value, err := newSecretValue()
		if err != nil {
			return false, err
		}
		added = v.add(s, opCreate, idempotencyKey, StagePending, value)
		return true, nil
	})
	if err != nil {
		return Version{}, v.wrap("create pending", err)
	}
	if added != nil { // its id is known once update wrote it
		out = added.Version
	}
	return out, nil
}

// Import adopts value as current when the store has none, as File.Import.
func (v *Vault) Import(ctx context.Context, idempotencyKey, value string) (Version, error) {
	return v.importValue(ctx, "import", idempotencyKey, value, false)
}

// ImportOver adopts value as current over a different current one, as File.ImportOver.
func (v *Vault) ImportOver(ctx context.Context, idempotencyKey, value string) (Version, error) {
	return v.importValue(ctx, "import over", idempotencyKey, value, true)
}

func (v *Vault) importValue(ctx context.Context, what, idempotencyKey, value string, over bool) (Version, error) {
	if idempotencyKey == "" {
		return Version{}, v.wrap(what, errors.New("idempotency key is empty"))
	}
	if value == "" {
		return Version{}, v.wrap(what, errors.New("value is empty"))
	}
	var added *record
	var out Version
	err := v.update(ctx, idempotencyKey, func(s *vaultState) (bool, error) {
		if r := s.byKey(idempotencyKey); r != nil {
			if r.Op != opImport {
				return false, fmt.Errorf("key %q was used by %s of version %s: %w", idempotencyKey, r.Op, r.ID, ErrIdempotencyConflict)
			}
			if r.Fingerprint != v.Fingerprint(value) {
				return false, fmt.Errorf("key %q imported version %s with a different value (fingerprint %s, got %s): %w",
					idempotencyKey, r.ID, r.Fingerprint, v.Fingerprint(value), ErrIdempotencyConflict)
			}
			out = r.Version
			return false, nil
		}
		if over {
			if p := s.byStage(StagePending); p != nil {
				return false, fmt.Errorf("version %s (key %q) is pending; promote it or mark it failed first: %w", p.ID, p.IdempotencyKey, ErrPendingExists)
			}
		}
		// Fingerprints are keyed HMACs, so equal fingerprints are equal values.
		cur := s.byStage(StageCurrent)
		if cur != nil && cur.Fingerprint == v.Fingerprint(value) {
			out = cur.Version
			return false, nil
		}
		if cur != nil && !over {
			return false, fmt.Errorf("current version %s has fingerprint %s, the imported value %s: %w",
				cur.ID, cur.Fingerprint, v.Fingerprint(value), ErrCurrentExists)
		}
		var demoted string
		if cur != nil {
			if prev := s.byStage(StagePrevious); prev != nil {
				prev.Stage = StageDeprecated
				demoted = prev.ID
			}
			cur.Stage = StagePrevious
		}
		added = v.add(s, opImport, idempotencyKey, StageCurrent, value)
		added.Demoted = demoted
		return true, nil
	})
	if err != nil {
		return Version{}, v.wrap(what, err)
	}
	if added != nil {
		out = added.Version
	}
	return out, nil
}

// Promote makes a pending version current, as File.Promote. It writes no value: the version
// already holds it.
func (v *Vault) Promote(ctx context.Context, versionID string) error {
	return v.transition(ctx, "promote", versionID, "", func(s *vaultState, r *record) (bool, error) {
		switch r.Stage {
		case StageCurrent:
			return false, nil
		case StagePending:
		default:
			return false, fmt.Errorf("version %s is %s, only a pending version can be promoted: %w", r.ID, r.Stage, ErrInvalidTransition)
		}
		promote(&s.state, r)
		return true, nil
	})
}

// MarkFailed marks a pending version failed, as File.MarkFailed.
func (v *Vault) MarkFailed(ctx context.Context, versionID string) error {
	return v.transition(ctx, "mark failed", versionID, "", func(_ *vaultState, r *record) (bool, error) {
		if changed, ok := failPending(r); ok {
			return changed, nil
		}
		return false, fmt.Errorf("version %s is %s, only a pending version can be marked failed: %w", r.ID, r.Stage, ErrInvalidTransition)
	})
}

// RollBack undoes a promotion, as File.RollBack, except that the previous value is restored as a
// NEW version (so that Vault's newest version is the current one again): versionID becomes
// failed, the old previous deprecated, and the version the promotion deprecated previous again.
func (v *Vault) RollBack(ctx context.Context, versionID string) error {
	key := "rollback-of-" + versionID
	var prevValue string
	return v.transition(ctx, "roll back", versionID, key, func(s *vaultState, r *record) (bool, error) {
		prev, changed, done, err := s.rollBackTo(r)
		if done || err != nil {
			return changed, err
		}
		if s.mine == nil || s.mine.Op != opRollBack {
			var err error
			if prevValue, err = v.value(ctx, s, prev.ID); err != nil {
				return false, fmt.Errorf("read previous version %s: %w", prev.ID, err)
			}
		}
		r.Stage = StageFailed
		prev.Stage = StageDeprecated
		restored := v.add(s, opRollBack, key, StageCurrent, prevValue)
		if d := s.byID(r.Demoted); d != nil && d.Stage == StageDeprecated && !s.gone[d.ID] {
			d.Stage = StagePrevious
		}
		restored.Demoted = prev.ID
		return true, nil
	})
}

// transition runs fn on the record of versionID: the frame of every stage change.
func (v *Vault) transition(ctx context.Context, op, versionID, key string, fn func(s *vaultState, r *record) (bool, error)) error {
	err := v.update(ctx, key, func(s *vaultState) (bool, error) {
		r := s.byID(versionID)
		if r == nil {
			return false, fmt.Errorf("%w: %q", ErrNotFound, versionID)
		}
		return fn(s, r)
	})
	return v.wrap(op, err)
}

// Value returns the secret value of versionID, as File.Value; a version Vault deleted or
// destroyed is ErrValuePruned.
func (v *Vault) Value(ctx context.Context, versionID string) (string, error) {
	s, err := v.load(ctx)
	if err != nil {
		return "", v.wrap("value", err)
	}
	if s.byID(versionID) == nil {
		return "", v.wrap("value", fmt.Errorf("%w: %q", ErrNotFound, versionID))
	}
	val, err := v.value(ctx, s, versionID)
	return val, v.wrap("value", err)
}

func (v *Vault) value(ctx context.Context, s *vaultState, id string) (string, error) {
	if s.gone[id] {
		return "", fmt.Errorf("%w: %s", ErrValuePruned, id)
	}
	kv, err := v.kv.GetVersion(ctx, v.path, versionNumber(id))
	if errors.Is(err, vault.ErrSecretNotFound) {
		return "", fmt.Errorf("%w: %s", ErrValuePruned, id)
	}
	if err != nil {
		return "", fmt.Errorf("read version %s: %w", id, classify(err))
	}
	val, _ := kv.Data["value"].(string)
	if val == "" {
		return "", fmt.Errorf("%w: %s", ErrValuePruned, id)
	}
	return val, nil
}

// ByStage returns the version with stage, as File.ByStage. Stages come from the labels only: a
// version Vault holds but the table does not label is never current.
func (v *Vault) ByStage(ctx context.Context, stage Stage) (Version, bool, error) {
	if !stage.valid() {
		return Version{}, false, v.wrap("by stage", fmt.Errorf("unknown stage %q", stage))
	}
	s, err := v.load(ctx)
	if err != nil {
		return Version{}, false, v.wrap("by stage", err)
	}
	r := s.byStage(stage)
	if r == nil {
		return Version{}, false, nil
	}
	return r.Version, true, nil
}

// List returns every labelled version, oldest first.
func (v *Vault) List(ctx context.Context) ([]Version, error) {
	s, err := v.load(ctx)
	if err != nil {
		return nil, v.wrap("list", err)
	}
	out := make([]Version, 0, len(s.Versions))
	for _, r := range s.Versions {
		out = append(out, r.Version)
	}
	return out, nil
}
