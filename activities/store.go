package activities

import (
	"context"

	"github.com/authops/authops/internal/secretstore"
)

// secretStore is what the activities need of a target's secret store: the file store
// (secretstore.File) or a Vault KV v2 secret (secretstore.Vault). Both keep the same versions and
// stages, and neither lets a value out except through Value.
type secretStore interface {
	CheckWritable(ctx context.Context) error
	CreatePending(ctx context.Context, idempotencyKey string) (secretstore.Version, error)
	Import(ctx context.Context, idempotencyKey, value string) (secretstore.Version, error)
	ImportOver(ctx context.Context, idempotencyKey, value string) (secretstore.Version, error)
	Promote(ctx context.Context, versionID string) error
	MarkFailed(ctx context.Context, versionID string) error
	RollBack(ctx context.Context, versionID string) error
	Value(ctx context.Context, versionID string) (string, error)
	ByStage(ctx context.Context, stage secretstore.Stage) (secretstore.Version, bool, error)
	List(ctx context.Context) ([]secretstore.Version, error)
	Fingerprint(value string) string
}

var (
	_ secretStore = (*secretstore.File)(nil)
	_ secretStore = (*secretstore.Vault)(nil)
)
