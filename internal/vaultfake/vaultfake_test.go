package vaultfake

import (
	"context"
	"errors"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// The fake answers as Vault does, as the real client library sees it.
func TestFakeSpeaksVault(t *testing.T) {
	f := New("root")
	t.Cleanup(f.Close)
	ctx := context.Background()
	c, err := vault.NewClient(&vault.Config{Address: f.URL})
	require.NoError(t, err)
	c.SetToken("root")
	kv := c.KVv2("secret")

	s, err := kv.Put(ctx, "app", map[string]any{"value": "one"}, vault.WithCheckAndSet(0))
	require.NoError(t, err)
	require.Equal(t, 1, s.VersionMetadata.Version)
	require.NoError(t, kv.PutMetadata(ctx, "app", vault.KVMetadataPutInput{CASRequired: true, CustomMetadata: map[string]any{"k": "v"}}))

	_, err = kv.Put(ctx, "app", map[string]any{"value": "two"}, vault.WithCheckAndSet(0))
	var re *vault.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, 400, re.StatusCode)
	require.Equal(t, []string{"check-and-set parameter did not match the current version"}, re.Errors)
	_, err = kv.Put(ctx, "app", map[string]any{"value": "two"})
	require.ErrorContains(t, err, "check-and-set parameter required for this call")

	m, err := kv.GetMetadata(ctx, "app")
	require.NoError(t, err)
	require.Equal(t, 1, m.CurrentVersion)
	require.Equal(t, "v", m.CustomMetadata["k"])
	require.True(t, m.CASRequired)

	f.Delete("secret", "app", 1)
	got, err := kv.GetVersion(ctx, "app", 1)
	require.NoError(t, err, "a deleted version answers 404 with its metadata")
	require.Nil(t, got.Data)
	require.False(t, got.VersionMetadata.DeletionTime.IsZero())
	_, err = kv.GetVersion(ctx, "app", 7)
	require.ErrorIs(t, err, vault.ErrSecretNotFound)
	_, err = kv.GetMetadata(ctx, "missing")
	require.ErrorIs(t, err, vault.ErrSecretNotFound)

	c.SetToken("expired")
	_, err = kv.GetMetadata(ctx, "app")
	require.True(t, errors.As(err, &re))
	require.Equal(t, 403, re.StatusCode)
	require.Equal(t, []string{"permission denied"}, re.Errors)

	f.AddAppRole("role", "sid")
	c.ClearToken()
	login, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role", "secret_id": "sid"})
	require.NoError(t, err)
	c.SetToken(login.Auth.ClientToken)
	_, err = kv.GetMetadata(ctx, "app")
	require.NoError(t, err)
}
