package secretstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPollInterval is how often a blocked lock attempt retries. flock has no
// timeout, so polling with LOCK_NB is what lets a waiting caller honour ctx.
const lockPollInterval = 5 * time.Millisecond

// flockFile takes an exclusive flock on path (created 0600 if missing) and
// returns the function that releases it. flock locks belong to the open file
// description, so two opens conflict even inside one process; that is what
// makes it safe for separate File values and separate processes.
func flockFile(ctx context.Context, path string) (unlock func(), err error) {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	fd := int(lf.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = lf.Close()
			return nil, fmt.Errorf("flock: %w", err)
		}
		t := time.NewTimer(lockPollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = lf.Close()
			return nil, fmt.Errorf("wait for lock: %w", ctx.Err())
		case <-t.C:
		}
	}
	return func() {
		// Closing the descriptor releases the lock as well; the explicit
		// unlock just makes the intent obvious.
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = lf.Close()
	}, nil
}
