package secretstore

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/internal/vaultfake"
)

const fakePath = "authops/jwt"

// onFake opens a Vault store on a fresh fake, with an initial current version.
func onFake(t *testing.T) (*vaultfake.Fake, *Vault, Version) {
	t.Helper()
	fake := vaultfake.New(fakeRoot)
	t.Cleanup(fake.Close)
	v := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	initial, err := v.Import(context.Background(), "adopt", "initial-secret-value")
	require.NoError(t, err)
	return fake, v, initial
}

// once runs fn at the first request that match accepts, and only then: fn's own requests pass.
func once(fake *vaultfake.Fake, match func(r *http.Request) bool, fn func()) {
	var done atomic.Bool
	fake.Before(func(r *http.Request) {
		if match(r) && done.CompareAndSwap(false, true) {
			fn()
		}
	})
}

func isDataWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/data/"+fakePath)
}

func isMetaWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/metadata/"+fakePath)
}

// requireNoLeak checks that an error names neither a secret value nor a credential.
func requireNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, fakeRoot) {
		require.NotContains(t, err.Error(), s)
	}
}

func TestVaultVersionIDsAreKVVersions(t *testing.T) {
	fake, v, initial := onFake(t)
	ctx := context.Background()
	require.Equal(t, "1", initial.ID)
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	require.Equal(t, "2", p.ID)
	require.Equal(t, 2, fake.CurrentVersion("secret", fakePath))
	// The value lives in Vault's data, labelled in metadata; the version itself holds no stage.
	require.Equal(t, "rot/create", fake.Latest("secret", fakePath)["key"])
}

func TestVaultRollBackWritesNewVersion(t *testing.T) {
	fake, v, initial := onFake(t)
	ctx := context.Background()
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	require.NoError(t, v.Promote(ctx, p.ID))
	require.NoError(t, v.RollBack(ctx, p.ID))
	require.NoError(t, v.RollBack(ctx, p.ID))
	require.Equal(t, 3, fake.CurrentVersion("secret", fakePath), "one new version, written once")
	cur, _, err := v.ByStage(ctx, StageCurrent)
	require.NoError(t, err)
	require.Equal(t, "3", cur.ID)
	require.Equal(t, initial.Fingerprint, cur.Fingerprint)
	require.Equal(t, "initial-secret-value", fake.Latest("secret", fakePath)["value"], "Vault's newest version is the current one again")
	requireStage(t, v, StageFailed, p.ID)
	requireStage(t, v, StageDeprecated, initial.ID)
}

func TestVaultCASConflict(t *testing.T) {
	fake, a, _ := onFake(t)
	ctx := context.Background()
	b := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	var other Version
	once(fake, isDataWrite, func() {
		var err error
		other, err = b.CreatePending(ctx, "other/create")
		require.NoError(t, err)
	})
	_, err := a.CreatePending(ctx, "mine/create")
	require.ErrorIs(t, err, ErrConflict)
	require.Contains(t, err.Error(), "check-and-set parameter did not match")
	requireStage(t, a, StagePending, other.ID)
	vs, err := a.List(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 2, "the losing write left nothing")

	// The retry sees the winner's rotation and refuses to start a second one.
	_, err = a.CreatePending(ctx, "mine/create")
	require.ErrorIs(t, err, ErrPendingExists)
}

func TestVaultConcurrentStageChange(t *testing.T) {
	fake, a, initial := onFake(t)
	ctx := context.Background()
	p, err := a.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	b := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	// b marks the version failed after a read the stages for its promotion.
	gets := 0
	fake.Before(func(r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/metadata/"+fakePath) {
			if gets++; gets == 2 {
				require.NoError(t, b.MarkFailed(ctx, p.ID))
			}
		}
	})
	err = a.Promote(ctx, p.ID)
	fake.Before(nil)
	require.ErrorIs(t, err, ErrConflict)
	requireStage(t, a, StageFailed, p.ID)
	requireStage(t, a, StageCurrent, initial.ID)
	require.ErrorIs(t, a.Promote(ctx, p.ID), ErrInvalidTransition, "the retry sees the failure")
}

func TestVaultTokenExpiresMidway(t *testing.T) {
	fake, _, initial := onFake(t)
	ctx := context.Background()
	const tok = "hvs.short-lived-token"
	fake.AddToken(tok, true)
	a := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: tok})
	// The token expires right after the value was written, before its stage is.
	once(fake, isMetaWrite, func() { fake.Revoke(tok) })
	_, err := a.CreatePending(ctx, "rot/create")
	require.ErrorIs(t, err, ErrDenied)
	require.Contains(t, err.Error(), "permission denied")
	requireNoLeak(t, err, tok)
	fake.Before(nil)

	root := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	_, found, err := root.ByStage(ctx, StagePending)
	require.NoError(t, err)
	require.False(t, found, "the unlabelled write is no pending version")
	requireStage(t, root, StageCurrent, initial.ID)

	// The retry with a fresh token reuses the version written, and writes no other.
	p, err := root.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	require.Equal(t, "2", p.ID)
	require.Equal(t, 2, fake.CurrentVersion("secret", fakePath))
	requireStage(t, root, StagePending, p.ID)

	// A token that is already gone fails at the first read, before anything is written.
	_, err = a.CreatePending(ctx, "rot2/create")
	require.ErrorIs(t, err, ErrDenied)
	require.Equal(t, 2, fake.CurrentVersion("secret", fakePath))
}

func TestVaultDown(t *testing.T) {
	fake, v, initial := onFake(t)
	ctx := context.Background()

	fake.Seal(true)
	_, err := v.CreatePending(ctx, "rot/create")
	require.ErrorIs(t, err, ErrUnavailable)
	require.Contains(t, err.Error(), "Vault is sealed")
	fake.Seal(false)

	// Down between the value and its stage: nothing is labelled, and the retry reuses the value.
	once(fake, isMetaWrite, func() { fake.Seal(true) })
	_, err = v.CreatePending(ctx, "rot/create")
	require.ErrorIs(t, err, ErrUnavailable)
	fake.Before(nil)
	fake.Seal(false)
	requireStage(t, v, StageCurrent, initial.ID)
	vs, err := v.List(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 1)
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	require.Equal(t, "2", p.ID)

	// No server at all: connection refused.
	fake.Close()
	err = v.Promote(ctx, p.ID)
	require.ErrorIs(t, err, ErrUnavailable)
	requireNoLeak(t, err)
	_, err = OpenVault(ctx, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestVaultForeignAndOrphanVersions(t *testing.T) {
	fake, v, initial := onFake(t)
	ctx := context.Background()
	// A write whose stage was lost, from another key, is failed by the next change.
	once(fake, isMetaWrite, func() { fake.Seal(true) })
	_, err := v.CreatePending(ctx, "lost/create")
	require.Error(t, err)
	fake.Before(nil)
	fake.Seal(false)
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	require.Equal(t, "3", p.ID)
	requireStage(t, v, StageFailed, "2")
	lost, err := v.CreatePending(ctx, "lost/create")
	require.NoError(t, err)
	require.Equal(t, "2", lost.ID, "the key still names the version it wrote")
	requireStage(t, v, StageCurrent, initial.ID)
}

func TestVaultDeletedAndDestroyedValues(t *testing.T) {
	fake, v, initial := onFake(t)
	ctx := context.Background()
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	fake.Delete("secret", fakePath, 1)
	_, err = v.Value(ctx, initial.ID)
	require.ErrorIs(t, err, ErrValuePruned)
	fake.Destroy("secret", fakePath, 2)
	_, err = v.Value(ctx, p.ID)
	require.ErrorIs(t, err, ErrValuePruned)
}

func TestVaultAppRole(t *testing.T) {
	fake := vaultfake.New(fakeRoot)
	t.Cleanup(fake.Close)
	fake.AddAppRole("role-1", "secret-id-1")
	ctx := context.Background()
	v := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, RoleID: "role-1", SecretID: "secret-id-1"})
	require.NoError(t, v.CheckWritable(ctx))
	_, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)

	_, err = OpenVault(ctx, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, RoleID: "role-1", SecretID: "wrong-secret-id"})
	require.ErrorContains(t, err, "approle login")
	require.ErrorContains(t, err, "invalid role or secret ID")
	requireNoLeak(t, err, "wrong-secret-id")
}

func TestVaultReadOnlyToken(t *testing.T) {
	fake, _, _ := onFake(t)
	ctx := context.Background()
	fake.AddToken("hvs.read-only", false)
	v := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: "hvs.read-only"})
	err := v.CheckWritable(ctx)
	require.ErrorIs(t, err, ErrDenied)
	_, err = v.CreatePending(ctx, "rot/create")
	require.ErrorIs(t, err, ErrDenied)
	require.Equal(t, 1, fake.CurrentVersion("secret", fakePath))
}

func TestVaultBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  VaultConfig
		want string
	}{
		{"no address", VaultConfig{Mount: "secret", Path: "p", Token: "t"}, "address is required"},
		{"no mount", VaultConfig{Address: "http://127.0.0.1:1", Path: "p", Token: "t"}, "mount is required"},
		{"no path", VaultConfig{Address: "http://127.0.0.1:1", Mount: "secret", Token: "t"}, "path is required"},
		{"both auths", VaultConfig{Address: "http://127.0.0.1:1", Mount: "secret", Path: "p", Token: "hvs.tok", RoleID: "r", SecretID: "s"}, "either a token or an approle, not both"},
		{"no auth", VaultConfig{Address: "http://127.0.0.1:1", Mount: "secret", Path: "p"}, "a token, or an approle role_id and secret_id, is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenVault(ctx, tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hvs.tok")
		})
	}
}

func TestVaultErrorsNeverHoldValues(t *testing.T) {
	fake, v, _ := onFake(t)
	ctx := context.Background()
	p, err := v.CreatePending(ctx, "rot/create")
	require.NoError(t, err)
	value, err := v.Value(ctx, p.ID)
	require.NoError(t, err)
	fake.Seal(true)
	for _, err := range []error{
		v.Promote(ctx, p.ID),
		func() error { _, err := v.Value(ctx, p.ID); return err }(),
		func() error { _, err := v.Import(ctx, "k", "initial-secret-value"); return err }(),
	} {
		require.Error(t, err)
		requireNoLeak(t, err, value, "initial-secret-value")
	}
}

func TestVaultImportRetryAfterLostLabel(t *testing.T) {
	fake := vaultfake.New(fakeRoot)
	t.Cleanup(fake.Close)
	v := openVault(t, VaultConfig{Address: fake.URL, Mount: "secret", Path: fakePath, Token: fakeRoot})
	ctx := context.Background()
	once(fake, isMetaWrite, func() { fake.Seal(true) })
	_, err := v.Import(ctx, "adopt", "initial-secret-value")
	require.ErrorIs(t, err, ErrUnavailable)
	fake.Before(nil)
	fake.Seal(false)
	got, err := v.Import(ctx, "adopt", "initial-secret-value")
	require.NoError(t, err)
	require.Equal(t, "1", got.ID, "the value written before is reused")
	require.Equal(t, StageCurrent, got.Stage)
	require.Equal(t, 1, fake.CurrentVersion("secret", fakePath))
}

// Vault allows 64 custom metadata keys: the table keeps the newest maxEntries labels, dropping
// the oldest deprecated ones, and rotations go on.
func TestVaultManyRotationsStayInsideVaultLimits(t *testing.T) {
	fake, v, _ := onFake(t)
	ctx := context.Background()
	var last Version
	for i := range maxEntries + 5 {
		p, err := v.CreatePending(ctx, "rot/"+strconv.Itoa(i))
		require.NoError(t, err)
		require.NoError(t, v.Promote(ctx, p.ID))
		last = p
	}
	vs, err := v.List(ctx)
	require.NoError(t, err)
	require.Len(t, vs, maxEntries)
	requireStage(t, v, StageCurrent, last.ID)
	val, err := v.Value(ctx, last.ID)
	require.NoError(t, err)
	require.Equal(t, last.Fingerprint, v.Fingerprint(val))
	require.Equal(t, maxEntries+6, fake.CurrentVersion("secret", fakePath))
}
