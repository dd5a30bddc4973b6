// Package activities holds the Temporal activities: thin adapters over the plain packages in
// internal/ (secret store, env sink, deployer, probes, backend controls, notifier).
//
// The activities are methods of a few types, one per concern, each holding only what its
// activities act with: Policies (config), Secrets (the secret store, env sink and deploy path),
// Probes (the live backend and its control API), Incidents (runbook 1's snapshots, measures,
// verification, reports and freezes), Notifications (the notifier and Slack) and Peer (the
// messages between runs). Workflows schedule them by name (contract/act), never by linking this
// package; worker/register registers every type.
//
// Secrets and tokens stay inside this package. Inputs and results carry target names, version
// ids and fingerprints only, because everything crossing the boundary lands in workflow history.
package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/secretstore"
)

// claims are what a token the target issues to the probe user must carry.
func claims(t *config.Target) probe.Claims {
	return probe.Claims{Issuer: t.Claims.Issuer, Subject: t.Probe.Username, Role: t.Claims.Role, TTL: t.Claims.TTL.D()}
}

// heartbeatWhile heartbeats every few seconds until fn returns, so a worker crash mid-deploy is
// noticed by the heartbeat timeout rather than the much longer start-to-close timeout.
func heartbeatWhile(ctx context.Context, detail string, fn func() error) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				activity.RecordHeartbeat(ctx, detail)
			}
		}
	}()
	return fn()
}

// versionRef looks up a version's fingerprint.
func versionRef(ctx context.Context, s secretStore, id string) (contract.VersionRef, string, error) {
	v, err := s.Value(ctx, id)
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return contract.VersionRef{}, "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("secret version %s not found", id), contract.ErrTypeConflict, nil)
		}
		return contract.VersionRef{}, "", err
	}
	return contract.VersionRef{ID: id, Fingerprint: s.Fingerprint(v)}, v, nil
}

// controlErr makes a 4xx answer non-retryable: the request itself is wrong.
func controlErr(err error) error {
	var se *controls.StatusError
	if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
		return temporal.NewNonRetryableApplicationError(se.Error(), contract.ErrTypeConfig, nil)
	}
	return err
}

// resultsErr summarises failed probe results as one error, or nil.
func resultsErr(rs probe.Results) error {
	failed := rs.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, 0, len(failed))
	for _, f := range failed {
		names = append(names, fmt.Sprintf("%s (want %d, got %d)", f.Name, f.Expected, f.Got))
	}
	return fmt.Errorf("failed: %s", strings.Join(names, "; "))
}
