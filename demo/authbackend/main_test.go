package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// buildBinary compiles the real authbackend into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "authbackend")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// baseEnv keeps the child's environment free of the developer's own
// JWT_SECRET or admin token.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// runBinary runs the binary to completion and returns exit code and output.
func runBinary(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		require.NoError(t, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// process is a running authbackend.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	addr   string
}

func startBinary(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	// Reap the child as soon as it exits, so restart sees it gone rather
	// than a zombie.
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})

	listening := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(p.stderr.String())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	}, 15*time.Second, 20*time.Millisecond, "server did not start: %s", p.stderr.String())
	return p
}

func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatalf("process did not exit; stderr: %s", p.stderr.String())
		return -1
	}
}

func (p *process) call(t *testing.T, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path, rd)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	const (
		secret     = "binary-test-secret-0123456789abcdefghij"
		newSecret  = "binary-test-rotated-secret-9876543210zyx"
		adminToken = "binary-admin-token-71c2"
		password   = "probe-password-Hq4%"
	)

	t.Run("missing secret exits 1", func(t *testing.T) {
		code, stdout, stderr := runBinary(t, bin, baseEnv())
		require.Equal(t, 1, code)
		require.Empty(t, stdout)
		require.Contains(t, stderr, "JWT_SECRET is missing")
		require.Contains(t, stderr, "32 bytes")
	})

	t.Run("short secret exits 1 without printing it", func(t *testing.T) {
		const short = "short-secret-do-not-print"
		envFile := writeTemp(t, "backend.env", "JWT_SECRET="+short+"\n")
		for _, run := range []struct {
			env  []string
			args []string
		}{
			{baseEnv(), []string{"--env-file", envFile}},
			{baseEnv("JWT_SECRET=" + short), nil},
		} {
			code, _, stderr := runBinary(t, bin, run.env, run.args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, "JWT_SECRET is shorter than the 32-byte minimum")
			require.NotContains(t, stderr, short)
		}
	})

	t.Run("bad flags exit 1", func(t *testing.T) {
		code, _, stderr := runBinary(t, bin, baseEnv("JWT_SECRET="+secret), "--access-ttl", "soon")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "access-ttl")
		code, _, _ = runBinary(t, bin, baseEnv("JWT_SECRET="+secret), "unexpected-arg")
		require.Equal(t, 1, code)
	})

	t.Run("serves, restarts and keeps state", func(t *testing.T) {
		dir := t.TempDir()
		envFile := writeTemp(t, "backend.env", "JWT_SECRET="+secret+"\n")
		users := writeTemp(t, "users.json", `[{"username":"probe","password":"`+password+`","role":"user"}]`)
		tokenFile := writeTemp(t, "admin.token", adminToken+"\n")
		pidFile := filepath.Join(dir, "authbackend.pid")
		stateFile := filepath.Join(dir, "state.json")
		args := []string{"--addr", "127.0.0.1:0", "--env-file", envFile, "--users", users,
			"--admin-token-file", tokenFile, "--state-file", stateFile, "--pid-file", pidFile, "--access-ttl", "5m"}

		first := startBinary(t, bin, baseEnv(), args...)
		data, err := os.ReadFile(pidFile)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(first.cmd.Process.Pid)+"\n", string(data))
		info, err := os.Stat(pidFile)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		status, health := first.call(t, http.MethodGet, "/healthz", "", nil)
		require.Equal(t, http.StatusOK, status)
		require.EqualValues(t, first.cmd.Process.Pid, health["pid"])

		status, tokens := first.call(t, http.MethodPost, "/auth/token", "", map[string]string{"username": "probe", "password": password})
		require.Equal(t, http.StatusOK, status)
		require.EqualValues(t, 300, tokens["expires_in"])
		access := tokens["access_token"].(string)
		status, _ = first.call(t, http.MethodGet, "/auth/me", access, nil)
		require.Equal(t, http.StatusOK, status)
		status, revoke := first.call(t, http.MethodPost, "/_control/sessions/revoke", adminToken, map[string]string{"username": ""})
		require.Equal(t, http.StatusOK, status)

		code, stdout, stderr := runBinary(t, bin, baseEnv(), "restart", "--pid-file", pidFile, "--timeout", "10s")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "stopped")
		require.Equal(t, 0, first.exitCode(t), first.stderr.String())
		require.NoFileExists(t, pidFile)
		require.Contains(t, first.stderr.String(), `"msg":"shutting down"`)

		// The supervisor's part: start again, here with a rotated secret.
		require.NoError(t, os.WriteFile(envFile, []byte("JWT_SECRET="+newSecret+"\n"), 0o600))
		second := startBinary(t, bin, baseEnv(), args...)
		status, state := second.call(t, http.MethodGet, "/_control/state", adminToken, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, revoke["cutoff"], state["revoked_before"])
		status, _ = second.call(t, http.MethodGet, "/auth/me", access, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		status, tokens2 := second.call(t, http.MethodPost, "/auth/token", "", map[string]string{"username": "probe", "password": password})
		require.Equal(t, http.StatusOK, status)
		status, _ = second.call(t, http.MethodGet, "/auth/me", tokens2["access_token"].(string), nil)
		require.Equal(t, http.StatusOK, status)

		require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, second.exitCode(t))
		require.NoFileExists(t, pidFile)

		logs := first.stderr.String() + second.stderr.String()
		for _, s := range []string{secret, newSecret, adminToken, password, access,
			tokens["refresh_token"].(string), tokens2["access_token"].(string)} {
			require.NotContains(t, logs, s)
		}
	})

	t.Run("SIGINT exits 0 and removes the pid file", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "authbackend.pid")
		p := startBinary(t, bin, baseEnv("JWT_SECRET="+secret), "--addr", "127.0.0.1:0", "--pid-file", pidFile)
		require.FileExists(t, pidFile)
		require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
		require.Equal(t, 0, p.exitCode(t))
		require.NoFileExists(t, pidFile)
	})

	t.Run("restart errors", func(t *testing.T) {
		dir := t.TempDir()
		gone := exec.Command("true")
		require.NoError(t, gone.Run())
		tests := []struct {
			name    string
			pidFile string // content; "-" means no file
			code    int
			want    string
		}{
			{"missing pid file", "-", 1, "does not exist"},
			{"garbage", "not-a-pid\n", 1, "does not hold a valid pid"},
			{"pid 1", "1\n", 1, "does not hold a valid pid"},
			{"negative", "-5\n", 1, "does not hold a valid pid"},
			{"process gone", strconv.Itoa(gone.Process.Pid) + "\n", 0, "not running"},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p := filepath.Join(dir, strconv.Itoa(i)+".pid")
				if tc.pidFile != "-" {
					require.NoError(t, os.WriteFile(p, []byte(tc.pidFile), 0o600))
				}
				code, stdout, stderr := runBinary(t, bin, baseEnv(), "restart", "--pid-file", p)
				require.Equal(t, tc.code, code, stderr)
				require.Contains(t, stdout+stderr, tc.want)
			})
		}
		code, _, stderr := runBinary(t, bin, baseEnv(), "restart")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "--pid-file")
	})
}

func TestRestartTimesOutOnStubbornProcess(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	// The shell ignores SIGTERM and execs sleep, which inherits that.
	cmd := exec.Command("sh", "-c", "trap '' TERM; exec sleep 30")
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	pid := cmd.Process.Pid
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return err == nil && strings.HasPrefix(string(b), "sleep")
	}, 5*time.Second, 10*time.Millisecond)

	pidFile := writeTemp(t, "stubborn.pid", strconv.Itoa(pid))
	var out bytes.Buffer
	err := restartProcess(t.Context(), pidFile, 300*time.Millisecond, &out)
	require.ErrorContains(t, err, "still running")
	require.True(t, processAlive(pid))

	// Once it is gone (and reaped), processAlive says so.
	require.NoError(t, cmd.Process.Kill())
	<-done
	require.False(t, processAlive(pid))
}

func TestPIDFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pid")
	require.NoError(t, writePIDFile(p, 4242))
	got, err := readPIDFile(p)
	require.NoError(t, err)
	require.Equal(t, 4242, got)

	require.NoError(t, removePIDFile(p, 999), "not ours")
	require.FileExists(t, p)
	require.NoError(t, removePIDFile(p, 4242))
	require.NoFileExists(t, p)
	require.NoError(t, removePIDFile(p, 4242), "already gone")
}

func TestRunServerInProcess(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "authbackend.pid")
	opts := serveOptions{
		addr:       "127.0.0.1:0",
		usersFile:  writeTemp(t, "users.json", `[{"username":"probe","password":"pw-in-process","role":"user"}]`),
		stateFile:  filepath.Join(dir, "state.json"),
		issuer:     defaultIssuer,
		accessTTL:  time.Minute,
		pidFile:    pidFile,
		bcryptCost: bcrypt.MinCost,
	}
	env := envOf(map[string]string{secretEnv: testSecret, adminTokenEnv: testAdminToken})
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- runServer(ctx, opts, env, logs) }()

	listening := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)
	var addr string
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(logs.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.FileExists(t, pidFile)

	resp, err := http.Get("http://" + addr + "/_control/state")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "control API is on via the env token")

	cancel()
	require.NoError(t, <-errc)
	require.NoFileExists(t, pidFile)
	require.Contains(t, logs.String(), `"msg":"stopped"`)
}

func TestRunServerConfigErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	good := func() serveOptions {
		return serveOptions{addr: "127.0.0.1:0", issuer: defaultIssuer, accessTTL: time.Minute, bcryptCost: bcrypt.MinCost}
	}
	tests := []struct {
		name   string
		change func(*serveOptions)
		env    map[string]string
		want   string
	}{
		{"no secret", func(*serveOptions) {}, map[string]string{}, "JWT_SECRET is missing"},
		{"missing users file", func(o *serveOptions) { o.usersFile = "/nonexistent/users.json" }, nil, "read users file"},
		{"bad users", func(o *serveOptions) { o.usersFile = writeTemp(t, "u.json", `[{"username":"x"}]`) }, nil, "password is empty"},
		{"missing admin token file", func(o *serveOptions) { o.adminTokenFile = "/nonexistent/admin.token" }, nil, "read admin token file"},
		{"corrupt state file", func(o *serveOptions) { o.stateFile = writeTemp(t, "s.json", "{") }, nil, "parse state file"},
		{"bad ttl", func(o *serveOptions) { o.accessTTL = -time.Second }, nil, "access TTL"},
		{"bcrypt cost too low", func(o *serveOptions) { o.bcryptCost = 3 }, nil, "--bcrypt-cost must be between 4 and 31, got 3"},
		{"bcrypt cost too high", func(o *serveOptions) { o.bcryptCost = 32 }, nil, "--bcrypt-cost must be between 4 and 31"},
		{"address in use", func(o *serveOptions) { o.addr = busy.Addr().String() }, nil, "listen on"},
		{"pid file dir missing", func(o *serveOptions) { o.pidFile = "/nonexistent/dir/x.pid" }, nil, "write pid file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.change(&o)
			env := tc.env
			if env == nil {
				env = map[string]string{secretEnv: testSecret}
			}
			err := runServer(t.Context(), o, envOf(env), io.Discard)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRootCommandFlags(t *testing.T) {
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCommand(envOf(nil), &out, &out)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	out, err := run("--help")
	require.NoError(t, err)
	for _, flag := range []string{"--addr", "--users", "--env-file", "--admin-token-file", "--state-file", "--issuer", "--access-ttl", "--pid-file"} {
		require.Contains(t, out, flag)
	}
	require.Contains(t, out, defaultAddr)

	_, err = run("restart")
	require.ErrorContains(t, err, "needs --pid-file")
	_, err = run("restart", "--pid-file", "x.pid", "--timeout", "0s")
	require.ErrorContains(t, err, "--timeout must be positive")
	_, err = run()
	require.ErrorContains(t, err, "JWT_SECRET is missing")
	_, err = run("--bcrypt-cost", "2")
	require.ErrorContains(t, err, "--bcrypt-cost must be between 4 and 31, got 2")
	require.NotContains(t, out, "--bcrypt-cost", "a load-test knob, hidden from --help")
}
