package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/deploy"
)

// CheckDeployPath runs the deploy path's dry run. An emergency run runs it while it waits for
// its go-ahead: a broken path shows before anyone approves, and the rotation's pre-check need
// not run it again moments later.
func (a *Secrets) CheckDeployPath(ctx context.Context, target string) error {
	t, err := a.target(target)
	if err != nil {
		return err
	}
	return a.deployer(t, a.knownSecrets(ctx)...).DryRun(ctx)
}

// Deploy restarts the backend and waits until it answers /healthz again.
func (a *Secrets) Deploy(ctx context.Context, in contract.DeployInput) (contract.DeployResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return contract.DeployResult{}, err
	}
	redact := a.knownSecrets(ctx)
	start := time.Now()
	var rep deploy.Report
	err = heartbeatWhile(ctx, "deploying", func() error {
		var err error
		rep, err = a.deployer(t, redact...).Deploy(ctx)
		if err != nil {
			return err
		}
		// Polls at most 20 ms apart: a backend that takes a few hundred milliseconds to come
		// back would otherwise wait up to a 100 ms poll more, and the cutover waits with it.
		return deploy.WaitReady(ctx, strings.TrimRight(t.BaseURL, "/")+"/healthz", t.Deployer.ReadinessTimeout.D(), 20*time.Millisecond)
	})
	res := contract.DeployResult{Output: rep.Output, OutputDigest: rep.Digest, OutputBytes: rep.Bytes, ExitCode: rep.ExitCode,
		DurationMS: rep.Duration.Milliseconds(), ReadyMS: time.Since(start).Milliseconds()}
	if err != nil {
		return res, fmt.Errorf("redeploy %s: %w", t.Name, err)
	}
	return res, nil
}
