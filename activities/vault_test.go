package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/secretstore"
	"github.com/authops/authops/internal/vaultfake"
)

const vaultToken = "hvs.activities-test-token"

// newVaultFixture is newFixture with the target's secret store in Vault (the fake), logged in
// with a token read from a file.
func newVaultFixture(t *testing.T) (*fixture, *vaultfake.Fake, *secretstore.Vault) {
	t.Helper()
	fake := vaultfake.New(vaultToken)
	t.Cleanup(fake.Close)
	f := newFixture(t, func(doc string) string {
		return strings.Replace(doc, fmt.Sprintf("secret_store: {kind: file, dir: secrets, name: %s}", storeName),
			"secret_store: {kind: vault, address: "+fake.URL+", mount: secret, path: authops/demo/jwt, dir: state, auth: {token: {file: vault.token}}}", 1)
	})
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "vault.token"), []byte(vaultToken+"\n"), 0o600))
	v, err := secretstore.OpenVault(context.Background(), secretstore.VaultConfig{Address: fake.URL, Mount: "secret", Path: "authops/demo/jwt", Token: vaultToken})
	require.NoError(t, err)
	t.Cleanup(func() {
		// Nothing the activities returned holds a value Vault keeps, or the token.
		secrets := []string{vaultToken}
		if vs, err := v.List(context.Background()); err == nil {
			for _, ver := range vs {
				if val, err := v.Value(context.Background(), ver.ID); err == nil {
					secrets = append(secrets, val)
				}
			}
		}
		for _, s := range secrets {
			for _, r := range f.results {
				require.NotContains(t, r, s, "an activity result or error holds a secret or the token")
			}
			require.NotContains(t, f.logs.String(), s)
		}
	})
	return f, fake, v
}

func TestVaultStore_RotationThroughActivities(t *testing.T) {
	f, fake, v := newVaultFixture(t)
	ctx := context.Background()
	key := "rotation-demo/run-1"
	res := f.adopt(t, key)
	require.Equal(t, "1", res.Current.ID, "the live secret adopted as KV version 1")
	require.Equal(t, f.initial, fake.Latest("secret", "authops/demo/jwt")["value"])

	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: key}))
	require.Equal(t, "2", ref.ID)
	cur, _, err := v.ByStage(ctx, secretstore.StageCurrent)
	require.NoError(t, err)
	require.Equal(t, "1", cur.ID, "pending is not current before promotion")

	var applied contract.ApplyResult
	require.NoError(t, f.run(&applied, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	pending, err := v.Value(ctx, ref.ID)
	require.NoError(t, err)
	require.Contains(t, f.envFile(), "JWT_SECRET="+pending+"\n")

	require.NoError(t, f.run(nil, f.secrets.PromoteSecret, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	require.NoError(t, f.run(nil, f.secrets.PromoteSecret, contract.VersionInput{Target: "demo", VersionID: ref.ID}), "a retry")
	cur, _, err = v.ByStage(ctx, secretstore.StageCurrent)
	require.NoError(t, err)
	require.Equal(t, ref.ID, cur.ID)

	// The runbook's rollback: the previous value applied, then the store rolled back, which
	// in Vault writes it again as version 3.
	require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: res.Current.ID}))
	require.NoError(t, f.run(nil, f.secrets.RollBackSecret, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	cur, _, err = v.ByStage(ctx, secretstore.StageCurrent)
	require.NoError(t, err)
	require.Equal(t, "3", cur.ID)
	require.Equal(t, res.Current.Fingerprint, cur.Fingerprint)

	// The next rotation's pre-check sees the sink and the store agree.
	var pc contract.PreCheckResult
	require.NoError(t, f.run(&pc, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "rotation-demo/run-2"}))
	require.True(t, pc.OK, "%+v", pc.Checks)
	require.Equal(t, cur.ID, pc.Current.ID)
}

func TestVaultStore_DownAndDeniedAreRetryableAndChangeNothing(t *testing.T) {
	f, fake, v := newVaultFixture(t)
	key := "rotation-demo/run-1"
	f.adopt(t, key)

	fake.Seal(true)
	err := f.run(nil, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: key})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.False(t, ae.NonRetryable(), "an outage is retried")
	require.ErrorContains(t, err, "Vault is sealed")
	fake.Seal(false)

	fake.Revoke(vaultToken)
	err = f.run(nil, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: key})
	require.ErrorContains(t, err, "permission denied")
	require.NotContains(t, err.Error(), vaultToken)
	fake.AddToken(vaultToken, true)

	require.Equal(t, 1, fake.CurrentVersion("secret", "authops/demo/jwt"))
	vs, err := v.List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

// A deploy that prints the worker's Vault token has it redacted: it is a secret the worker knows.
func TestVaultStore_DeployRedactsTheToken(t *testing.T) {
	f, _, _ := newVaultFixture(t)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "deploy.sh"),
		[]byte("#!/bin/sh\necho deploying\ncat vault.token\necho restarted\n"), 0o700))
	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.Equal(t, "deploying\n[REDACTED]\nrestarted\n", res.Output)
}
