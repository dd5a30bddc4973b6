package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/envfile"
	"github.com/authops/authops/internal/testenv"
)

// TestOverheadVsScript times the emergency runbook beside a plain Go function that does its
// steps on the same backend in the same test: revoke every session, rotate the secret in the env
// file, restart the backend, then verify (old token refused, a fresh login served, the critical
// endpoints answer as configured). Both run without route restrictions: with them the run holds
// the restriction for its TTL before it closes. The script writes no secret store and no timeline.
func TestOverheadVsScript(t *testing.T) {
	skipUnlessBench(t)
	runs := size("AUTHOPS_BENCH_OVERHEAD_RUNS", 5)
	fmt.Printf("\nauthops overhead: emergency runbook vs a plain script, %d runs each on %s (%d CPUs; others may be using it)\n", runs, hostname(), numCPU())
	// At bcrypt's production cost each login costs the backend 155 ms of CPU, and the runbook
	// logs in more often than the script (pre-check, validation, verification); at the lowest
	// cost what is left is the orchestration's own overhead.
	for _, cost := range []int{bcrypt.DefaultCost, bcrypt.MinCost} {
		t.Run(fmt.Sprintf("bcrypt-%d", cost), func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{NoWorker: true, BcryptCost: cost})
			env.StartWorkerProcess(t)
			ctx := context.Background()
			var runbook, script []time.Duration
			for i := 0; i < runs; i++ {
				_, v, err := emergencyOnce(ctx, t, env, "")
				if err != nil {
					t.Fatalf("emergency run %d: %v", i, err)
				}
				runbook = append(runbook, v)

				tok := login(t, env)
				start := time.Now()
				if err := plainScript(ctx, t, env, tok); err != nil {
					t.Fatalf("script %d: %v", i, err)
				}
				script = append(script, time.Since(start))
				resetStore(t, env)
			}
			fmt.Printf("  backend at bcrypt cost %d:\n", cost)
			fmt.Printf("    runbook, go-ahead -> verified (run completed): %s\n", pcts(runbook))
			fmt.Printf("    script, start -> verified:                     %s\n", pcts(script))
			fmt.Printf("    ratio of medians: %.2fx (goal: at most 1.3x)\n", float64(median(runbook))/float64(median(script)))
		})
	}
}

// plainScript is the emergency runbook's steps without Temporal.
func plainScript(ctx context.Context, t *testing.T, env *testenv.Env, oldToken string) error {
	c := controls.Client{BaseURL: env.BackendURL, Token: env.AdminToken(t)}
	if _, err := c.RevokeSessions(ctx, ""); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if _, err := (envfile.Dotenv{Path: env.Paths.EnvFile}).Set("JWT_SECRET", randomSecret(t)); err != nil {
		return err
	}
	restart := exec.Command(filepath.Join(env.Bin, "authbackend"), "restart", "--pid-file", env.Paths.PidFile, "--timeout", "15s")
	if out, err := restart.CombinedOutput(); err != nil {
		return fmt.Errorf("restart: %v %s", err, out)
	}
	waitHealthy(t, env.BackendURL)
	if got := get(t, env.BackendURL+"/auth/me", oldToken); got != http.StatusUnauthorized {
		return fmt.Errorf("old token: %d", got)
	}
	fresh := login(t, env)
	admin := loginAs(t, env, demoenv.UserProbeAdmin)
	for _, c := range []struct {
		path, tok string
		want      int
	}{{"/auth/me", fresh, 200}, {"/healthz", "", 200}, {"/auth/me", "", 401}, {"/admin/users", fresh, 403}, {"/admin/users", admin, 200}} {
		if got := get(t, env.BackendURL+c.path, c.tok); got != c.want {
			return fmt.Errorf("%s: %d, want %d", c.path, got, c.want)
		}
	}
	return nil
}

func get(t *testing.T, url, tok string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func loginAs(t *testing.T, env *testenv.Env, user string) string {
	body, _ := json.Marshal(map[string]string{"username": user, "password": env.Password(t, user)})
	resp, err := http.Post(env.BackendURL+"/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login as %s: status %d", user, resp.StatusCode)
	}
	return tok.AccessToken
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func waitHealthy(t *testing.T, base string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("backend %s not healthy", base)
}

// cleanEnv keeps the backends from picking up a secret from the test's environment.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JWT_SECRET=") && !strings.HasPrefix(kv, "AUTHBACKEND_ADMIN_TOKEN=") {
			out = append(out, kv)
		}
	}
	return out
}

func numCPU() int { return runtime.NumCPU() }

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// serverPid is the dev server process of env (found by its database path).
func serverPid(t *testing.T, env *testenv.Env) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), env.TemporalDB()) && strings.Contains(string(b), "start-dev") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatal("no dev server process")
	return 0
}

// procStatus is a kB field of /proc/PID/status (VmRSS, VmHWM), in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return -1
}

// procCPU is the user+system CPU time of a process, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is [0], utime [11], stime [12], in clock ticks (100 Hz).
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// ownCPU is the CPU seconds of this process and of the children it has reaped: the bench's
// client side, the backends that exited on a restart, and every bin/starter call.
func ownCPU() float64 {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	secs := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return secs(self.Utime) + secs(self.Stime) + secs(kids.Utime) + secs(kids.Stime)
}

func mib(b int64) string {
	if b < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
