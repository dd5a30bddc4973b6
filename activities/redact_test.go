package activities

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/secretstore"
)

// otherTarget is a second target of the same worker: its secrets and credentials must not show
// in the demo target's deploy output either.
const otherTarget = `  other:
    base_url: http://127.0.0.1:1
    secret_store: {kind: file, dir: other-secrets, name: other-jwt-secret}
    env_sink: {kind: dotenv, path: other.env, key: JWT_SECRET}
    deployer: {kind: exec, argv: [deploy.sh, other.env]}
    admin: {token: {file: other-admin.token}}
    probe:
      username: probe
      password: {env: AUTHOPS_TEST_OTHER_PROBE_PASSWORD}
    claims: {issuer: other}
    approvers: [alice]
people:
`

func TestDeploy_RedactsEverySecretTheWorkerKnows(t *testing.T) {
	const (
		otherLive     = "other-live-secret-Jd83kd"
		otherAdmin    = "other-admin-token-Pq71"
		otherProbe    = "other-probe-password-Wx5"
		slackBot      = "xoxb-worker-bot-token-123"
		slackApp      = "xapp-worker-app-token-456"
		temporalKey   = "temporal-api-key-789"
		gatewayKeyB64 = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ"
	)
	f := newFixture(t, func(s string) string { return strings.Replace(s, "people:\n", otherTarget, 1) })
	write := func(name, content string) string {
		p := filepath.Join(f.dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	write("other.env", "JWT_SECRET="+otherLive+"\n")
	write("other-admin.token", otherAdmin+"\n")
	gatewayKey := write("gateway.key", "-----BEGIN OPENSSH PRIVATE KEY-----\n"+gatewayKeyB64+"\n-----END OPENSSH PRIVATE KEY-----\n")
	t.Setenv("AUTHOPS_TEST_OTHER_PROBE_PASSWORD", otherProbe)
	t.Setenv("SLACK_BOT_TOKEN", slackBot)
	t.Setenv("SLACK_APP_TOKEN", slackApp)
	t.Setenv("TEMPORAL_API_KEY", temporalKey)
	t.Setenv("AUTHOPS_GATEWAY_KEY", gatewayKey)
	f.secrets.PeerKey = []byte("0123456789abcdef0123456789abcdef")

	// The other target's store holds a current and a pending version.
	ctx := context.Background()
	other, err := secretstore.OpenFile(filepath.Join(f.dir, "other-secrets"), "other-jwt-secret")
	require.NoError(t, err)
	_, err = other.Import(ctx, "adopt", otherLive)
	require.NoError(t, err)
	pendingRef, err := other.CreatePending(ctx, "run-other")
	require.NoError(t, err)
	otherPending, err := other.Value(ctx, pendingRef.ID)
	require.NoError(t, err)

	// A careless deploy tool prints whatever it finds: here a file holding all of it. (The
	// worker's environment never reaches the command; the test proves that elsewhere.)
	all := []string{otherLive, otherPending, otherAdmin, otherProbe, slackBot, slackApp, temporalKey,
		hex.EncodeToString(f.secrets.PeerKey), f.initial}
	write("leaked.txt", strings.Join(all, "\n")+"\n")
	// The gateway's private key, a line of it and then all of it.
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "deploy.sh"),
		[]byte("#!/bin/sh\necho deploying\ncat leaked.txt\nsed -n 2p gateway.key\ncat gateway.key\necho restarted\n"), 0o700))
	all = append(all, gatewayKeyB64)

	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.Equal(t, "deploying\n"+strings.Repeat("[REDACTED]\n", 11)+"restarted\n", res.Output,
		"each value is one marker, and nothing else changed")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, res.OutputDigest, "the whole output is there as a digest")
	require.Positive(t, res.OutputBytes)

	// Nor is anything of it in what the fixture recorded of the activity (its result and logs).
	f.mu.Lock()
	for _, r := range f.results {
		for _, s := range all {
			require.NotContains(t, r, s)
		}
	}
	f.mu.Unlock()
}

func TestDeploy_KeepsLastLinesAndDigest(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "deploy.sh"), []byte(`#!/bin/sh
i=0; while [ $i -lt 500 ]; do echo "step $i"; i=$((i+1)); done
cat backend.env
echo restarted
`), 0o700))
	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.NotContains(t, res.Output, f.initial)
	require.Contains(t, res.Output, "JWT_SECRET=[REDACTED]")
	require.NotContains(t, res.Output, "step 486\n", "only the last 20 lines")
	require.Contains(t, res.Output, "step 487\n")
	require.Equal(t, 20, strings.Count(res.Output, "\n"), res.Output)
	require.True(t, strings.HasSuffix(res.Output, "restarted\n"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, res.OutputDigest)
	require.Greater(t, res.OutputBytes, int64(500*len("step 100\n")), "the digest covers all the output")

	// The same output gives the same digest: it identifies what the deploy printed.
	var again contract.DeployResult
	require.NoError(t, f.run(&again, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.Equal(t, res.OutputDigest, again.OutputDigest)
}

func TestDeploy_CommandSeesOnlyDeployerEnvAndPath(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-must-not-reach-the-deploy")
	t.Setenv("AUTHOPS_TEST_WORKER_ONLY", "worker-only")
	f := newFixture(t, func(s string) string {
		return strings.Replace(s, "      timeout: 10s\n", "      timeout: 10s\n      env: {DEPLOY_ZONE: eu-1, HOME: /nonexistent}\n", 1)
	})
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "deploy.sh"), []byte(`#!/bin/sh
printf 'names:'; env | cut -d= -f1 | sort | tr '\n' ' '; echo
echo "zone=$DEPLOY_ZONE home=$HOME"
echo "slack=${SLACK_BOT_TOKEN-unset} worker=${AUTHOPS_TEST_WORKER_ONLY-unset}"
echo "path=$PATH"
`), 0o700))
	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.Contains(t, res.Output, "zone=eu-1 home=/nonexistent\n")
	require.Contains(t, res.Output, "slack=unset worker=unset\n")
	require.Contains(t, res.Output, "path="+os.Getenv("PATH")+"\n")
	names, _, _ := strings.Cut(strings.TrimPrefix(res.Output, "names:"), "\n")
	for _, n := range strings.Fields(names) {
		require.Contains(t, []string{"PATH", "DEPLOY_ZONE", "HOME", "PWD", "OLDPWD", "SHLVL", "_"}, n,
			"the command sees deployer.env and PATH only (sh adds PWD, SHLVL, _)")
	}
}

func TestPreCheck_RefusesAnEnvSinkOthersCanReadOrASymlink(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, f *fixture)
		want  string
	}{
		"0640": {func(t *testing.T, f *fixture) {
			require.NoError(t, os.Chmod(filepath.Join(f.dir, "backend.env"), 0o640))
		},
			"mode 0640 lets its group or others read or change the secret"},
		"0604": {func(t *testing.T, f *fixture) {
			require.NoError(t, os.Chmod(filepath.Join(f.dir, "backend.env"), 0o604))
		},
			"mode 0604 lets its group or others read or change the secret"},
		"symlink": {func(t *testing.T, f *fixture) {
			p := filepath.Join(f.dir, "backend.env")
			require.NoError(t, os.Rename(p, filepath.Join(f.dir, "real.env")))
			require.NoError(t, os.Symlink("real.env", p))
		}, "is a symlink"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(t, f)
			before := f.envFile()
			var res contract.PreCheckResult
			require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
			require.False(t, res.OK)
			c := checkByName(t, res, "env sink writable")
			require.False(t, c.OK)
			require.Contains(t, c.Detail, tc.want)

			// Nothing changed: the file, its mode, and no version was created.
			require.Equal(t, before, f.envFile())
			if name != "symlink" {
				fi, err := os.Stat(filepath.Join(f.dir, "backend.env"))
				require.NoError(t, err)
				require.Equal(t, name, fmt.Sprintf("%04o", uint32(fi.Mode().Perm())), "the mode is left as it was")
			}
			if _, err := os.Stat(filepath.Join(f.dir, "secrets", storeName+".json")); err == nil {
				vs, err := f.store().List(context.Background())
				require.NoError(t, err)
				require.Empty(t, vs)
			}

			// A write is refused as well, and changes nothing.
			var ref contract.VersionRef
			require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-1"}))
			err := f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: ref.ID})
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, before, f.envFile())
		})
	}
}
