package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/secretstore"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/internal/vaultfake"
)

const (
	vaultToken = "hvs.e2e-worker-token-not-for-logs"
	vaultPath  = "authops/demo/jwt"
)

// vaultStack starts the stack with the demo target's secret in Vault (the fake), the worker
// logged in with a token read from a file.
func vaultStack(t *testing.T) (*testenv.Env, *vaultfake.Fake) {
	t.Helper()
	fake := vaultfake.New(vaultToken)
	t.Cleanup(fake.Close)
	tokenFile := filepath.Join(t.TempDir(), "vault.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(vaultToken+"\n"), 0o600))
	env := startStack(t, testenv.Options{ObservationWindow: 3 * time.Second,
		SecretStore: "{kind: vault, address: " + fake.URL + ", mount: secret, path: " + vaultPath + ", auth: {token: {file: " + tokenFile + "}}}"})
	return env, fake
}

// vaultRotateApproved runs a rotation of demo that bob approves, and returns its result.
func vaultRotateApproved(t *testing.T, env *testenv.Env) (string, contract.RotationResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "vault e2e")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	out, err = env.Starter(t, "approve", id, "--as", "bob")
	require.NoError(t, err, out)
	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	return id, res
}

// checkVaultRotated checks that Vault's current version is the run's new one and the env file
// holds it, and that no value Vault holds, nor the token, is anywhere the leak scan looks.
func checkVaultRotated(t *testing.T, env *testenv.Env, fake *vaultfake.Fake, id string, res contract.RotationResult, oldSecret, history string) {
	t.Helper()
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	ctx := context.Background()
	v, err := secretstore.OpenVault(ctx, secretstore.VaultConfig{Address: fake.URL, Mount: "secret", Path: vaultPath, Token: vaultToken})
	require.NoError(t, err)
	cur, found, err := v.ByStage(ctx, secretstore.StageCurrent)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, res.New.ID, cur.ID, "the run's new version is current")
	require.Equal(t, res.New.Fingerprint, cur.Fingerprint)
	prev, found, err := v.ByStage(ctx, secretstore.StagePrevious)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, v.Fingerprint(oldSecret), prev.Fingerprint, "the adopted secret is kept as previous")
	newSecret := env.Secret(t)
	require.NotEqual(t, oldSecret, newSecret)
	val, err := v.Value(ctx, cur.ID)
	require.NoError(t, err)
	require.Equal(t, newSecret, val, "the env file holds Vault's current value")

	scan := env.LeakScan(t)
	scan.Value("vault token", vaultToken)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", newSecret)
	vs, err := v.List(ctx)
	require.NoError(t, err)
	for _, ver := range vs {
		if val, err := v.Value(ctx, ver.ID); err == nil {
			scan.Value("vault version "+ver.ID, val)
		}
	}
	scan.History(id)
	scan.Check(t)
	env.CheckReplay(t, id, "", history)
}

func TestRotationEndToEndVault(t *testing.T) {
	env, fake := vaultStack(t)
	oldSecret := env.Secret(t)
	id, res := vaultRotateApproved(t, env)
	checkVaultRotated(t, env, fake, id, res, oldSecret, "rotation-vault-completed")
	require.Equal(t, "1", res.Previous.ID, "the live secret was adopted as KV version 1")
	require.Equal(t, "2", res.New.ID, "one new KV version, not one per attempt")
	require.Equal(t, 2, fake.CurrentVersion("secret", vaultPath))
}

// Vault is down (sealed) when the new secret is written, and back two seconds later: the
// activity is retried, and the rotation completes with one new version.
func TestRotationVaultDownAtCreate(t *testing.T) {
	env, fake := vaultStack(t)
	oldSecret := env.Secret(t)
	var sealed atomic.Bool
	fake.Before(func(r *http.Request) {
		if r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/data/"+vaultPath) &&
			fake.CurrentVersion("secret", vaultPath) == 1 && sealed.CompareAndSwap(false, true) {
			fake.Seal(true)
			time.AfterFunc(2*time.Second, func() { fake.Seal(false) })
		}
	})
	id, res := vaultRotateApproved(t, env)
	require.True(t, sealed.Load(), "the fault was injected")
	checkVaultRotated(t, env, fake, id, res, oldSecret, "rotation-vault-down-at-create")
	require.Equal(t, 2, fake.CurrentVersion("secret", vaultPath))
}

// Another writer changes the secret in Vault between the store's read and its write of the new
// secret: the check-and-set fails, the retry labels the other write (deprecated: not
// authops's) and writes its own on top, and the rotation completes.
func TestRotationVaultCASConflict(t *testing.T) {
	env, fake := vaultStack(t)
	oldSecret := env.Secret(t)
	var done atomic.Bool
	fake.Before(func(r *http.Request) {
		if r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/data/"+vaultPath) &&
			fake.CurrentVersion("secret", vaultPath) == 1 && done.CompareAndSwap(false, true) {
			body := strings.NewReader(`{"data":{"value":"someone-elses-write"},"options":{"cas":1}}`)
			req, err := http.NewRequest(http.MethodPost, fake.URL+"/v1/secret/data/"+vaultPath, body)
			require.NoError(t, err)
			req.Header.Set("X-Vault-Token", vaultToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
	})
	id, res := vaultRotateApproved(t, env)
	require.True(t, done.Load(), "the concurrent write happened")
	checkVaultRotated(t, env, fake, id, res, oldSecret, "rotation-vault-cas-conflict")
	require.Equal(t, "3", res.New.ID, "written after the other writer's version 2")
	require.Equal(t, 3, fake.CurrentVersion("secret", vaultPath))
}
