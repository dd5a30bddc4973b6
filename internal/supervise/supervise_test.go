package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRestartsWithBackoff(t *testing.T) {
	logs := &syncBuffer{}
	p := &Process{
		Name:       "exit3",
		Argv:       []string{"sh", "-c", "exit 3"},
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, p)

	const starts = 5
	var pids []int
	var times []time.Time
	for len(pids) < starts {
		select {
		case pid := <-p.Started():
			pids = append(pids, pid)
			times = append(times, time.Now())
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d starts", len(pids))
		}
	}
	cancel()
	waitRun(t, done)

	seen := map[int]bool{}
	for _, pid := range pids {
		if seen[pid] {
			t.Errorf("pid %d reported twice", pid)
		}
		seen[pid] = true
	}
	// Backoff doubles from 50ms and caps at 200ms; gaps can only be longer than that.
	want := []time.Duration{50, 100, 200, 200}
	for i, w := range want {
		if gap := times[i+1].Sub(times[i]); gap < w*time.Millisecond {
			t.Errorf("gap %d = %v, want >= %v", i, gap, w*time.Millisecond)
		}
	}
	out := logs.String()
	for _, s := range []string{"process=exit3", `status="exit status 3"`, "backoff=50ms", "backoff=200ms"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	p := &Process{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	tests := []struct {
		name       string
		cur, ran   time.Duration
		clean      bool
		wait, next time.Duration
	}{
		{"first", 100 * time.Millisecond, time.Millisecond, false, 100 * time.Millisecond, 200 * time.Millisecond},
		{"doubles", 400 * time.Millisecond, time.Second, false, 400 * time.Millisecond, 800 * time.Millisecond},
		{"caps", 800 * time.Millisecond, time.Second, false, 800 * time.Millisecond, time.Second},
		{"stays capped", time.Second, time.Second, false, time.Second, time.Second},
		{"resets after a long run", time.Second, 11 * time.Second, false, 100 * time.Millisecond, 200 * time.Millisecond},
		{"a clean exit is a redeploy", time.Second, 300 * time.Millisecond, true, 100 * time.Millisecond, 200 * time.Millisecond},
		{"a clean exit at once backs off", time.Second, 50 * time.Millisecond, true, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, next := p.nextBackoff(tt.cur, tt.ran, tt.clean)
			if wait != tt.wait || next != tt.next {
				t.Errorf("nextBackoff(%v, %v, %v) = %v, %v; want %v, %v", tt.cur, tt.ran, tt.clean, wait, next, tt.wait, tt.next)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := &Process{}
	if p.minBackoff() != 200*time.Millisecond || p.maxBackoff() != 5*time.Second || p.stopGrace() != 10*time.Second {
		t.Errorf("defaults: %v %v %v", p.minBackoff(), p.maxBackoff(), p.stopGrace())
	}
}

func TestStopOnCancelLeavesNoProcess(t *testing.T) {
	// The shell starts a grandchild in the background and reports its pid: both must be gone
	// after Run returns.
	out := &syncBuffer{}
	p := &Process{
		Name:   "sleeper",
		Argv:   []string{"sh", "-c", "sleep 100 & echo $!; wait"},
		Stdout: out,
		Logger: discardLogger(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, p)

	pid := <-p.Started()
	grandchild := waitForPid(t, out)
	if !alive(pid) || !alive(grandchild) {
		t.Fatalf("child %d or grandchild %d not running", pid, grandchild)
	}

	start := time.Now()
	cancel()
	waitRun(t, done)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("stop took %v; SIGTERM should have been enough", elapsed)
	}
	waitGone(t, pid)
	waitGone(t, grandchild)
}

func TestStopKillsAfterGrace(t *testing.T) {
	// An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
	out := &syncBuffer{}
	p := &Process{
		Name:      "stubborn",
		Argv:      []string{"sh", "-c", `trap "" TERM; sleep 100 & echo $!; wait`},
		Stdout:    out,
		StopGrace: 300 * time.Millisecond,
		Logger:    discardLogger(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, p)

	pid := <-p.Started()
	grandchild := waitForPid(t, out)

	start := time.Now()
	cancel()
	waitRun(t, done)
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("stopped after %v, before the grace period", elapsed)
	}
	waitGone(t, pid)
	waitGone(t, grandchild)
}

func TestRestartKillsLeftoverGrandchild(t *testing.T) {
	// The leader exits at once and leaves a grandchild behind; the supervisor clears it before
	// restarting, as it would hold ports the next start needs.
	out := &syncBuffer{}
	p := &Process{
		Name:       "leaky",
		Argv:       []string{"sh", "-c", "sleep 100 >/dev/null & echo $!"},
		Stdout:     out,
		MinBackoff: time.Hour, // one start is enough
		Logger:     discardLogger(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, p)

	<-p.Started()
	grandchild := waitForPid(t, out)
	waitGone(t, grandchild)
	cancel()
	waitRun(t, done)
}

func TestStartFailureIsRetried(t *testing.T) {
	logs := &syncBuffer{}
	p := &Process{
		Name:       "missing",
		Argv:       []string{"/nonexistent/authops-binary"},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := strings.Count(logs.String(), "start failed"); n < 2 {
		t.Errorf("start attempted %d times, want several:\n%s", n, logs.String())
	}
}

func TestRunRejectsEmptyArgv(t *testing.T) {
	p := &Process{Name: "empty"}
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("Run with empty Argv returned nil")
	}
}

func TestRunWithDoneContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &Process{Name: "never", Argv: []string{"sleep", "100"}, Logger: discardLogger()}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case pid := <-p.Started():
		t.Fatalf("started pid %d", pid)
	default:
	}
}

func runAsync(ctx context.Context, p *Process) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return done
}

func waitRun(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// waitForPid reads the first line the child printed.
func waitForPid(t *testing.T, out *syncBuffer) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("child printed %q", line)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("child printed no pid")
	return 0
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d is still running", pid)
}

// alive reports whether pid runs. A zombie counts as gone: an orphaned grandchild is reaped by
// init, which in a container may be slow or never do it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// Format: pid (comm) state ...; comm may hold spaces, so split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
