package secretstore

import (
	"context"
	"fmt"
)

// Value returns the secret value of versionID. The error wraps ErrNotFound
// for an unknown id and ErrValuePruned for a version whose value was pruned.
func (f *File) Value(ctx context.Context, versionID string) (string, error) {
	s, err := f.read(ctx)
	if err != nil {
		return "", f.wrap("value", err)
	}
	r := s.byID(versionID)
	if r == nil {
		return "", f.wrap("value", fmt.Errorf("%w: %q", ErrNotFound, versionID))
	}
	if r.Value == "" {
		return "", f.wrap("value", fmt.Errorf("%w: %s", ErrValuePruned, versionID))
	}
	return r.Value, nil
}

// ByStage returns the version with stage and whether there is one. Pending,
// current and previous are held by at most one version; for failed and
// deprecated the newest such version is returned.
func (f *File) ByStage(ctx context.Context, stage Stage) (Version, bool, error) {
	if !stage.valid() {
		return Version{}, false, f.wrap("by stage", fmt.Errorf("unknown stage %q", stage))
	}
	s, err := f.read(ctx)
	if err != nil {
		return Version{}, false, f.wrap("by stage", err)
	}
	r := s.byStage(stage)
	if r == nil {
		return Version{}, false, nil
	}
	return r.Version, true, nil
}

// List returns every version, oldest first. Metadata is never pruned, so
// this is the complete history of the secret.
func (f *File) List(ctx context.Context) ([]Version, error) {
	s, err := f.read(ctx)
	if err != nil {
		return nil, f.wrap("list", err)
	}
	out := make([]Version, 0, len(s.Versions))
	for _, r := range s.Versions {
		out = append(out, r.Version)
	}
	return out, nil
}
