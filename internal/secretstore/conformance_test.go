package secretstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/internal/vaultfake"
)

// store is what both stores offer; the conformance suite runs against each.
type store interface {
	CheckWritable(ctx context.Context) error
	CreatePending(ctx context.Context, key string) (Version, error)
	Import(ctx context.Context, key, value string) (Version, error)
	ImportOver(ctx context.Context, key, value string) (Version, error)
	Promote(ctx context.Context, id string) error
	MarkFailed(ctx context.Context, id string) error
	RollBack(ctx context.Context, id string) error
	Value(ctx context.Context, id string) (string, error)
	ByStage(ctx context.Context, stage Stage) (Version, bool, error)
	List(ctx context.Context) ([]Version, error)
	Fingerprint(value string) string
}

const fakeRoot = "hvs.fake-root-token-for-tests"

// backends opens a fresh store of each kind for a test: the file store, the Vault store on the
// fake, and the Vault store on a real Vault when VAULT_ADDR and VAULT_TOKEN are set.
func backends(t *testing.T) map[string]func(t *testing.T) store {
	return map[string]func(t *testing.T) store{
		"file": func(t *testing.T) store {
			f, err := OpenFile(filepath.Join(t.TempDir(), "secrets"), "jwt")
			require.NoError(t, err)
			return f
		},
		"vaultfake": func(t *testing.T) store {
			fake := vaultfake.New(fakeRoot)
			t.Cleanup(fake.Close)
			return openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: "authops/jwt", Token: fakeRoot})
		},
		"vault": func(t *testing.T) store {
			addr, tok := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
			if addr == "" || tok == "" {
				t.Skip("no real Vault: set VAULT_ADDR and VAULT_TOKEN (and VAULT_MOUNT, default secret) to run the suite against one")
			}
			mount := os.Getenv("VAULT_MOUNT")
			if mount == "" {
				mount = "secret"
			}
			suffix := make([]byte, 6)
			_, _ = rand.Read(suffix)
			path := "authops-test/" + hex.EncodeToString(suffix) + "/" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
			return openVault(t, VaultConfig{Address: addr, Mount: mount, Path: path, Token: tok})
		},
	}
}

func openVault(t *testing.T, cfg VaultConfig) *Vault {
	t.Helper()
	v, err := OpenVault(context.Background(), cfg)
	require.NoError(t, err)
	return v
}

// conform runs test against every backend.
func conform(t *testing.T, test func(t *testing.T, s store)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { test(t, open(t)) })
	}
}

func TestConformRotationCycle(t *testing.T) {
	conform(t, func(t *testing.T, s store) {
		ctx := context.Background()
		require.NoError(t, s.CheckWritable(ctx))
		_, found, err := s.ByStage(ctx, StageCurrent)
		require.NoError(t, err)
		require.False(t, found, "an empty store has no current version")

		initial, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		require.Equal(t, StageCurrent, initial.Stage)
		require.Equal(t, s.Fingerprint("initial-secret-value"), initial.Fingerprint)

		p1, err := s.CreatePending(ctx, "rot1/create")
		require.NoError(t, err)
		require.Equal(t, StagePending, p1.Stage)
		require.Equal(t, "rot1/create", p1.IdempotencyKey)
		v1, err := s.Value(ctx, p1.ID)
		require.NoError(t, err)
		require.Len(t, v1, 43, "32 random bytes, base64url")
		require.Equal(t, s.Fingerprint(v1), p1.Fingerprint)

		require.NoError(t, s.Promote(ctx, p1.ID))
		requireStage(t, s, StageCurrent, p1.ID)
		requireStage(t, s, StagePrevious, initial.ID)

		p2, err := s.CreatePending(ctx, "rot2/create")
		require.NoError(t, err)
		require.NotEqual(t, p1.ID, p2.ID)
		require.NoError(t, s.Promote(ctx, p2.ID))
		requireStage(t, s, StageCurrent, p2.ID)
		requireStage(t, s, StagePrevious, p1.ID)
		requireStage(t, s, StageDeprecated, initial.ID)

		vs, err := s.List(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{initial.ID, p1.ID, p2.ID}, ids(vs), "oldest first")
		got, err := s.Value(ctx, initial.ID)
		require.NoError(t, err)
		require.Equal(t, "initial-secret-value", got)
	})
}

func TestConformIdempotentRetries(t *testing.T) {
	conform(t, func(t *testing.T, s store) {
		ctx := context.Background()
		initial, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		again, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		require.Equal(t, initial.ID, again.ID)
		_, err = s.Import(ctx, "adopt", "another-value")
		require.ErrorIs(t, err, ErrIdempotencyConflict)
		_, err = s.Import(ctx, "adopt2", "another-value")
		require.ErrorIs(t, err, ErrCurrentExists)

		p, err := s.CreatePending(ctx, "rot/create")
		require.NoError(t, err)
		retry, err := s.CreatePending(ctx, "rot/create")
		require.NoError(t, err)
		require.Equal(t, p, retry, "a retried create returns the same version and generates nothing")
		_, err = s.CreatePending(ctx, "other/create")
		require.ErrorIs(t, err, ErrPendingExists)
		_, err = s.CreatePending(ctx, "adopt")
		require.ErrorIs(t, err, ErrIdempotencyConflict)

		require.NoError(t, s.Promote(ctx, p.ID))
		require.NoError(t, s.Promote(ctx, p.ID), "promoting the current version again is a no-op")
		after, err := s.CreatePending(ctx, "rot/create")
		require.NoError(t, err)
		require.Equal(t, p.ID, after.ID, "the key still names its version after promotion")

		q, err := s.CreatePending(ctx, "rot2/create")
		require.NoError(t, err)
		require.NoError(t, s.MarkFailed(ctx, q.ID))
		require.NoError(t, s.MarkFailed(ctx, q.ID))
		requireStage(t, s, StageCurrent, p.ID)

		require.ErrorIs(t, s.MarkFailed(ctx, p.ID), ErrInvalidTransition)
		require.ErrorIs(t, s.Promote(ctx, q.ID), ErrInvalidTransition)
		require.ErrorIs(t, s.Promote(ctx, "999"), ErrNotFound)
		_, err = s.Value(ctx, "999")
		require.ErrorIs(t, err, ErrNotFound)
		vs, err := s.List(ctx)
		require.NoError(t, err)
		require.Len(t, vs, 3)
	})
}

func TestConformPendingNotCurrent(t *testing.T) {
	conform(t, func(t *testing.T, s store) {
		ctx := context.Background()
		initial, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		p, err := s.CreatePending(ctx, "rot/create")
		require.NoError(t, err)
		requireStage(t, s, StageCurrent, initial.ID)
		requireStage(t, s, StagePending, p.ID)
		_, found, err := s.ByStage(ctx, StagePrevious)
		require.NoError(t, err)
		require.False(t, found)
	})
}

func TestConformRollBack(t *testing.T) {
	conform(t, func(t *testing.T, s store) {
		ctx := context.Background()
		initial, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		p1, err := s.CreatePending(ctx, "rot1/create")
		require.NoError(t, err)
		require.NoError(t, s.Promote(ctx, p1.ID))
		p2, err := s.CreatePending(ctx, "rot2/create")
		require.NoError(t, err)
		require.NoError(t, s.Promote(ctx, p2.ID))

		require.NoError(t, s.RollBack(ctx, p2.ID))
		require.NoError(t, s.RollBack(ctx, p2.ID), "a retried rollback is a no-op")
		requireStage(t, s, StageFailed, p2.ID)
		cur, found, err := s.ByStage(ctx, StageCurrent)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, p1.Fingerprint, cur.Fingerprint, "the previous secret is current again")
		v1, err := s.Value(ctx, p1.ID)
		require.NoError(t, err)
		got, err := s.Value(ctx, cur.ID)
		require.NoError(t, err)
		require.Equal(t, v1, got)
		requireStage(t, s, StagePrevious, initial.ID)

		// The version rolled back to cannot itself be rolled back past its start.
		require.ErrorIs(t, s.RollBack(ctx, initial.ID), ErrInvalidTransition)

		// A pending version "rolled back" (its promotion never happened) is failed.
		p3, err := s.CreatePending(ctx, "rot3/create")
		require.NoError(t, err)
		require.NoError(t, s.RollBack(ctx, p3.ID))
		requireStage(t, s, StageFailed, p3.ID)
		requireStage(t, s, StageCurrent, cur.ID)
	})
}

func TestConformImportOver(t *testing.T) {
	conform(t, func(t *testing.T, s store) {
		ctx := context.Background()
		initial, err := s.Import(ctx, "adopt", "initial-secret-value")
		require.NoError(t, err)
		same, err := s.ImportOver(ctx, "over0", "initial-secret-value")
		require.NoError(t, err)
		require.Equal(t, initial.ID, same.ID, "the same value is the current version")
		over, err := s.ImportOver(ctx, "over", "live-secret-value")
		require.NoError(t, err)
		retry, err := s.ImportOver(ctx, "over", "live-secret-value")
		require.NoError(t, err)
		require.Equal(t, over.ID, retry.ID)
		requireStage(t, s, StageCurrent, over.ID)
		requireStage(t, s, StagePrevious, initial.ID)
		p, err := s.CreatePending(ctx, "rot/create")
		require.NoError(t, err)
		_, err = s.ImportOver(ctx, "over2", "yet-another-value")
		require.ErrorIs(t, err, ErrPendingExists)
		require.NoError(t, s.MarkFailed(ctx, p.ID))
	})
}

func requireStage(t *testing.T, s store, stage Stage, id string) {
	t.Helper()
	v, found, err := s.ByStage(context.Background(), stage)
	require.NoError(t, err)
	require.True(t, found, "no %s version", stage)
	require.Equal(t, id, v.ID, "the %s version", stage)
}

func ids(vs []Version) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}
