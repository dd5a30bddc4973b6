package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExecDeploySuccess(t *testing.T) {
	e := Exec{
		Argv: []string{"sh", "-c", `echo out; echo err >&2; echo "foo=$FOO"`},
		Env:  []string{"FOO=bar"},
	}
	rep, err := e.Deploy(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, rep.ExitCode)
	assert.Contains(t, rep.Output, "out\n")
	assert.Contains(t, rep.Output, "err\n")
	assert.Contains(t, rep.Output, "foo=bar")
	assert.Positive(t, rep.Duration)
}

func TestExecDeployEnvironmentIsExplicit(t *testing.T) {
	// The worker's environment holds its own credentials; the command must see none of it.
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-worker-token")
	t.Setenv("AUTHOPS_TEST_OTHER_TARGET_TOKEN", "other-target-credential")
	e := Exec{
		Argv: []string{"sh", "-c", `printf 'names:'; env | cut -d= -f1 | sort | tr '\n' ' '; echo; echo "mode=$DEPLOY_MODE"; echo "path=$PATH"`},
		Env:  []string{"DEPLOY_MODE=blue"},
	}
	rep, err := e.Deploy(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, rep.Output, "xoxb-worker-token")
	assert.NotContains(t, rep.Output, "SLACK_BOT_TOKEN")
	assert.NotContains(t, rep.Output, "AUTHOPS_TEST_OTHER_TARGET_TOKEN")
	assert.Contains(t, rep.Output, "mode=blue\n")
	assert.Contains(t, rep.Output, "path="+os.Getenv("PATH")+"\n")
	names, _, _ := strings.Cut(strings.TrimPrefix(rep.Output, "names:"), "\n")
	for _, n := range strings.Fields(names) {
		// sh itself sets PWD, OLDPWD, SHLVL and _.
		assert.Contains(t, []string{"PATH", "DEPLOY_MODE", "PWD", "OLDPWD", "SHLVL", "_"}, n, "the command sees only PATH and Env")
	}

	// With no Env the command gets PATH alone, not the worker's environment.
	rep, err = Exec{Argv: []string{"sh", "-c", `echo "slack=${SLACK_BOT_TOKEN-unset}"`}}.Deploy(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "slack=unset\n", rep.Output)
}

func TestExecDeployFailureExitCode(t *testing.T) {
	rep, err := Exec{Argv: []string{"sh", "-c", "echo broken; exit 3"}}.Deploy(context.Background())
	require.Error(t, err)
	assert.Equal(t, 3, rep.ExitCode)
	assert.Contains(t, rep.Output, "broken")
	assert.Contains(t, err.Error(), "exit status 3")
}

func TestExecDeployRunsInDir(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "deploy.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\npwd\n"), 0o700))
	rep, err := Exec{Argv: []string{"./deploy.sh"}, Dir: dir}.Deploy(context.Background())
	require.NoError(t, err)
	want, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Contains(t, rep.Output, want)
}

func TestExecDeployTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "survived")
	// The child sleep would create the marker if it outlived the kill.
	e := Exec{
		Argv:    []string{"sh", "-c", `echo started; (sleep 1; touch "$1") & sleep 30`, "sh", marker},
		Timeout: 300 * time.Millisecond,
	}
	start := time.Now()
	rep, err := e.Deploy(context.Background())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "the process must be killed at the timeout")
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "err = %v", err)
	assert.Contains(t, err.Error(), "timed out")
	assert.Equal(t, -1, rep.ExitCode)
	assert.Contains(t, rep.Output, "started")

	time.Sleep(1500 * time.Millisecond)
	assert.NoFileExists(t, marker, "a child of the deploy survived the timeout")
}

func TestExecDeployRedactsOutputAndErrors(t *testing.T) {
	const secret = "s3cr3t-Value-42"
	e := Exec{
		Argv:   []string{"sh", "-c", `echo "token=$1"; echo "$1" >&2; exit 1`, "sh", secret},
		Redact: []string{secret},
	}
	rep, err := e.Deploy(context.Background())
	require.Error(t, err)
	assert.NotContains(t, rep.Output, secret)
	assert.Contains(t, rep.Output, "token=[REDACTED]")
	assert.NotContains(t, err.Error(), secret)

	// A secret in the command itself must not leak through a start failure.
	e = Exec{Argv: []string{"/nonexistent/" + secret}, Redact: []string{secret}}
	_, err = e.Deploy(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "[REDACTED]")

	e = Exec{Argv: []string{"sh"}, DryRunArgv: []string{"sh", "-c", `echo "bad $1"; exit 2`, "sh", secret}, Redact: []string{secret}}
	err = e.DryRun(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "bad [REDACTED]")
}

func TestExecDeployOutputTruncated(t *testing.T) {
	rep, err := Exec{Argv: []string{"sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo END`}}.Deploy(context.Background())
	require.NoError(t, err)
	assert.LessOrEqual(t, len(rep.Output), outputLimit)
	assert.True(t, strings.HasPrefix(rep.Output, "line 1981\n"), "the last 20 lines: %q", rep.Output)
	assert.True(t, strings.HasSuffix(rep.Output, "END\n"))
	assert.Greater(t, rep.Bytes, int64(len(rep.Output)))
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, rep.Digest)
}

func TestExecDryRun(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "deploy.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o700))
	notExec := filepath.Join(dir, "plain.sh")
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o600))

	tests := []struct {
		name    string
		e       Exec
		wantErr string
	}{
		{"empty argv", Exec{}, "empty argv"},
		{"missing binary", Exec{Argv: []string{"authops-no-such-binary"}}, "authops-no-such-binary"},
		{"missing file in dir", Exec{Argv: []string{"./nope.sh"}, Dir: dir}, "nope.sh"},
		{"not executable", Exec{Argv: []string{"./plain.sh"}, Dir: dir}, "not executable"},
		{"directory", Exec{Argv: []string{dir}}, "is a directory"},
		{"failing dry-run argv", Exec{Argv: []string{"sh"}, DryRunArgv: []string{"sh", "-c", "echo config invalid; exit 2"}}, "config invalid"},
		{"missing dry-run binary", Exec{Argv: []string{"sh"}, DryRunArgv: []string{"authops-no-such-check"}}, "authops-no-such-check"},
		{"in PATH", Exec{Argv: []string{"sh", "-c", "exit 1"}}, ""},
		{"relative to dir", Exec{Argv: []string{"./deploy.sh"}, Dir: dir}, ""},
		{"passing dry-run argv", Exec{Argv: []string{"./deploy.sh"}, Dir: dir, DryRunArgv: []string{"./deploy.sh", "--check"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.DryRun(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
