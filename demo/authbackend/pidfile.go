package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authops/authops/internal/atomicfile"
)

// writePIDFile records this process's pid, atomically so a concurrent
// restart never reads half a number.
func writePIDFile(path string, pid int) error {
	if err := atomicfile.Write(path, []byte(strconv.Itoa(pid)+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// removePIDFile removes the pid file if it still names pid, so an instance
// that shuts down late does not delete its successor's file.
func removePIDFile(path string, pid int) error {
	if got, err := readPIDFile(path); err != nil || got != pid {
		return nil // gone, unreadable or not ours: leave it alone
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("pid file %s does not exist: is authbackend running with --pid-file?", path)
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	// 0, 1 and negative numbers would signal a process group or init.
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s does not hold a valid pid", path)
	}
	return pid, nil
}

// restartProcess sends SIGTERM to the pid in pidFile and waits until that
// process has exited; the supervisor then starts it again.
func restartProcess(ctx context.Context, pidFile string, timeout time.Duration, out io.Writer) error {
	pid, err := readPIDFile(pidFile)
	if err != nil {
		return err
	}
	if pid == os.Getpid() {
		return fmt.Errorf("pid file %s names this process", pidFile)
	}
	switch err := syscall.Kill(pid, syscall.SIGTERM); {
	case errors.Is(err, syscall.ESRCH):
		fmt.Fprintf(out, "authbackend (pid %d) is not running\n", pid)
		return nil
	case err != nil:
		return fmt.Errorf("send SIGTERM to pid %d: %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Polled often: the redeploy waits on this, and a check is one kill(0) and a small read.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for processAlive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d still running after %s: %w", pid, timeout, ctx.Err())
		case <-tick.C:
		}
	}
	fmt.Fprintf(out, "authbackend (pid %d) stopped\n", pid)
	return nil
}

// processAlive reports whether pid exists and is not a zombie. A zombie has
// exited and only waits for its parent to reap it.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name, which may itself
	// contain spaces or parentheses.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	fields := strings.Fields(rest)
	return len(fields) == 0 || fields[0] != "Z"
}
