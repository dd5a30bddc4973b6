// Package supervise keeps a child process running, the way a container restart policy does:
// restart on every exit with exponential backoff, and stop the whole process group on shutdown.
// The demo stack uses it for the Temporal dev server, the demo backend and the worker; a backend
// that exits is how a "redeploy" picks up a new env file.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

const (
	defaultMinBackoff = 200 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
	defaultStopGrace  = 10 * time.Second

	// resetAfter is how long a child must run to count as healthy again, so that a crash after
	// hours of uptime restarts quickly instead of after the backoff of some earlier crash loop.
	resetAfter = 10 * time.Second
	// cleanAfter is how long a child must run before a clean exit counts as a redeploy; one
	// that exits 0 at once (a bad flag, say) backs off like a crash.
	cleanAfter = 100 * time.Millisecond

	// pipeDelay bounds how long Wait keeps copying output after the child exited, in case a
	// grandchild still holds the pipe open.
	pipeDelay = time.Second

	startedBuffer = 16
)

// Process describes a child to keep running. Set the fields before calling Run, and do not
// change them afterwards.
type Process struct {
	Name string
	Argv []string
	Dir  string
	Env  []string // nil inherits the environment of this process

	// Stdout and Stderr receive the child's output; nil discards it.
	Stdout, Stderr io.Writer

	MinBackoff, MaxBackoff time.Duration // defaults 200ms and 5s
	StopGrace              time.Duration // time between SIGTERM and SIGKILL, default 10s
	Logger                 *slog.Logger  // default slog.Default()

	startedOnce sync.Once
	started     chan int
}

// Started returns a channel that receives the pid of the child each time it starts. Sends never
// block: when nobody reads, pids beyond the buffer are dropped.
func (p *Process) Started() <-chan int {
	return p.startedChan()
}

func (p *Process) startedChan() chan int {
	p.startedOnce.Do(func() { p.started = make(chan int, startedBuffer) })
	return p.started
}

// Run starts the process and restarts it whenever it exits until ctx is done. Then it sends
// SIGTERM to the child's process group, waits up to StopGrace, sends SIGKILL, and returns nil.
// A child that cannot be started is retried like one that exited. Run returns an error only for
// an invalid Process.
func (p *Process) Run(ctx context.Context) error {
	if len(p.Argv) == 0 {
		return fmt.Errorf("supervise %q: empty Argv", p.Name)
	}
	log := p.logger().With("process", p.Name)
	backoff := p.minBackoff()

	for ctx.Err() == nil {
		start := time.Now()
		stopped, exitErr := p.runOnce(ctx, log)
		if stopped {
			return nil
		}

		var wait time.Duration
		wait, backoff = p.nextBackoff(backoff, time.Since(start), exitErr == nil)
		// A clean exit is how a redeploy looks; anything else deserves attention.
		level := slog.LevelWarn
		if exitErr == nil {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "process exited; restarting",
			"status", exitStatus(exitErr), "ran", time.Since(start).Round(time.Millisecond), "backoff", wait)

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// runOnce runs the child until it exits or ctx is done. stopped reports the latter, in which
// case the child has been stopped. exitErr is why the child ended or could not start; nil
// means exit status 0.
func (p *Process) runOnce(ctx context.Context, log *slog.Logger) (stopped bool, exitErr error) {
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = p.Env
	cmd.Stdout = p.Stdout
	cmd.Stderr = p.Stderr
	cmd.WaitDelay = pipeDelay
	// Its own process group lets us signal the child together with everything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start failed: %w", err)
	}
	pid := cmd.Process.Pid
	log.Info("process started", "pid", pid)
	select {
	case p.startedChan() <- pid:
	default:
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	select {
	case err := <-done:
		// The leader is gone; whatever it left in its group would hold ports or files the next
		// start needs.
		killGroup(pid, syscall.SIGKILL)
		return false, err
	case <-ctx.Done():
		p.stop(log, pid, done)
		return true, nil
	}
}

// stop sends SIGTERM to the group, then SIGKILL after StopGrace, and waits for the child.
func (p *Process) stop(log *slog.Logger, pid int, done <-chan error) {
	log.Info("stopping process", "pid", pid, "grace", p.stopGrace())
	killGroup(pid, syscall.SIGTERM)

	t := time.NewTimer(p.stopGrace())
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		log.Warn("process ignored SIGTERM; killing it", "pid", pid)
		killGroup(pid, syscall.SIGKILL)
		err = <-done
	}
	// Grandchildren that outlived the leader.
	killGroup(pid, syscall.SIGKILL)
	log.Info("process stopped", "pid", pid, "status", exitStatus(err))
}

// nextBackoff returns how long to wait before the next start, given the current backoff, how
// long the child ran and whether it exited cleanly, and the backoff to use after that. A clean
// exit after a while is a redeploy, not a crash: it restarts after the shortest wait, or every
// redeploy would wait out the backoff of the ones before it.
func (p *Process) nextBackoff(cur, ran time.Duration, clean bool) (wait, next time.Duration) {
	minB, maxB := p.minBackoff(), p.maxBackoff()
	if ran > resetAfter || cur < minB || (clean && ran >= cleanAfter) {
		cur = minB
	}
	wait = min(cur, maxB)
	return wait, min(2*wait, maxB)
}

// killGroup signals the process group led by pid. The group id is the leader's pid and stays
// reserved while any member lives; once the last one is gone the kernel answers "no such
// process", which is the expected outcome and ignored.
func killGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

func exitStatus(err error) string {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &exitErr):
		return exitErr.Error()
	default:
		return err.Error()
	}
}

func (p *Process) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Process) minBackoff() time.Duration {
	if p.MinBackoff > 0 {
		return p.MinBackoff
	}
	return defaultMinBackoff
}

func (p *Process) maxBackoff() time.Duration {
	if p.MaxBackoff > 0 {
		return max(p.MaxBackoff, p.minBackoff())
	}
	return max(defaultMaxBackoff, p.minBackoff())
}

func (p *Process) stopGrace() time.Duration {
	if p.StopGrace > 0 {
		return p.StopGrace
	}
	return defaultStopGrace
}
