package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

const (
	defaultReadyTimeout  = 30 * time.Second
	defaultReadyInterval = 500 * time.Millisecond
	// minAttemptTimeout lets one health request outlive a short poll interval, so that a slow
	// but healthy target is not reported as down.
	minAttemptTimeout = 2 * time.Second
	firstPoll         = 5 * time.Millisecond
)

// WaitReady polls GET healthURL until 200 or timeout; the error says how many attempts and the
// last status/error. The waits between attempts start at firstPoll and double up to interval:
// a restarted backend is usually back within tens of milliseconds, and a fixed interval would
// add up to a whole one to every redeploy. Zero timeout or interval take defaults (30s, 500ms).
func WaitReady(ctx context.Context, healthURL string, timeout, interval time.Duration) error {
	u, err := url.Parse(healthURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("wait ready: invalid health URL %q", healthURL)
	}
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	if interval <= 0 {
		interval = defaultReadyInterval
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{CheckRedirect: noRedirect} // a redirect (to a login page, say) is not healthy

	start := time.Now()
	wait := min(firstPoll, interval)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var last string
	for attempts := 1; ; attempts++ {
		got := checkOnce(ctx, client, healthURL, max(interval, minAttemptTimeout))
		if got == "" {
			return nil
		}
		// An attempt cut short by the overall deadline says nothing new; keep the one before.
		if last == "" || ctx.Err() == nil {
			last = got
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait ready: %s not ready after %d attempts in %s, last %s: %w",
				safeURL(u), attempts, time.Since(start).Round(time.Millisecond), last, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, interval)
		timer.Reset(wait)
	}
}

// checkOnce returns "" when the health URL answers 200, else what it got.
func checkOnce(ctx context.Context, client *http.Client, healthURL string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
	if err != nil {
		return "error: " + err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "error: " + err.Error()
	}
	// Drain a little so the connection can be reused for the next attempt.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	return "status " + resp.Status
}
