// Package activities holds the Temporal activities: thin adapters over the plain packages in
// internal/ (secret store, env sink, deployer, probes, backend controls, notifier).
//
// Secrets and tokens stay inside this package. Inputs and results carry target names, version
// ids and fingerprints only, because everything crossing the boundary lands in workflow history.
package activities

import (
	"github.com/authops/authops/contract"

	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/deploy"
	"github.com/authops/authops/internal/envfile"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/secretstore"
)

// Activities is registered on the worker; its methods are the activities.
type Activities struct {
	Config   *config.Config
	Notifier notify.Notifier
	// HTTP is used for probes and the control API; nil means a client with a 5s timeout.
	HTTP *http.Client
	// Runs tells whether the run that left a pending secret version behind has closed (the
	// worker's Temporal client). nil means the worker cannot tell, and no pending version is
	// then treated as stale.
	Runs RunDescriber
	// Peers reaches other runs (a child's report to its incident); the worker's client.
	Peers Peers
	// Freezes reads the freezes running incidents hold (the worker's Temporal client). nil means
	// this worker cannot read them: FrozenBy then logs a warning and reports no freeze.
	Freezes freeze.Lister
	// Slack posts the announcements to Slack (notify.go); nil when the worker has no Slack token.
	Slack *SlackNotifier
	// PeerKey seals and checks the messages runs send each other (peer.go, internal/peer).
	PeerKey []byte
}

// Error types that workflows and retry policies recognise.
const (
	ErrTypeConfig   = "ConfigError"
	ErrTypeConflict = "StateConflict"
)

// LoadPolicy returns the target's policy. An unknown target is a non-retryable error.
func (a *Activities) LoadPolicy(ctx context.Context, target string) (contract.Policy, error) {
	t, err := a.target(target)
	if err != nil {
		return contract.Policy{}, err
	}
	// Public keys only: they go into the run's history, and the run verifies decisions against them.
	people, err := a.Config.People()
	if err != nil {
		return contract.Policy{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	gateway, err := a.Config.GatewayKeys()
	if err != nil {
		return contract.Policy{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	return contract.Policy{
		People:                   people,
		GatewayKeys:              gateway,
		RotationQuorum:           t.Quorum.Rotation,
		EmergencyQuorum:          t.Quorum.Emergency,
		ApprovalValidity:         t.Rotation.ApprovalValidity.D(),
		MaxWindowAhead:           t.Rotation.MaxWindowAhead.D(),
		Target:                   t.Name,
		BaseURL:                  t.BaseURL,
		Channel:                  t.Channel,
		Approvers:                t.Approvers,
		ApprovalTimeout:          t.Rotation.ApprovalTimeout.D(),
		ReminderInterval:         t.Rotation.ReminderInterval.D(),
		ObservationWindow:        t.Rotation.ObservationWindow.D(),
		ClosedWindow:             t.Rotation.ClosedWindow,
		EmergencyApprovalTimeout: t.Emergency.ApprovalTimeout.D(),
		DeployTimeout:            t.Deployer.Timeout.D() + t.Deployer.ReadinessTimeout.D(),
		Timeouts:                 a.Config.Timeouts.Contract(),
		Freeze:                   t.Freeze,
	}, nil
}

func (a *Activities) target(name string) (*config.Target, error) {
	t, err := a.Config.Target(name)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	return t, nil
}

func (a *Activities) store(t *config.Target) (*secretstore.File, error) {
	s, err := secretstore.OpenFile(a.Config.Abs(t.SecretStore.Dir), t.SecretStore.Name)
	if err != nil {
		return nil, fmt.Errorf("open secret store of %s: %w", t.Name, err)
	}
	return s, nil
}

// targetStore returns a target and its secret store.
func (a *Activities) targetStore(name string) (*config.Target, *secretstore.File, error) {
	t, err := a.target(name)
	if err != nil {
		return nil, nil, err
	}
	s, err := a.store(t)
	return t, s, err
}

func (a *Activities) sink(t *config.Target) envfile.Dotenv {
	return envfile.Dotenv{Path: a.Config.Abs(t.EnvSink.Path)}
}

// deployer is what a rotation needs from a deploy path.
type deployer interface {
	Deploy(ctx context.Context) (deploy.Report, error)
	DryRun(ctx context.Context) error
}

func (a *Activities) deployer(t *config.Target, redact ...string) deployer {
	d := t.Deployer
	if d.Kind == "http" {
		return deploy.HTTP{Method: d.Method, URL: d.URL, HeadersFromEnv: d.HeadersFromEnv, Timeout: d.Timeout.D(), Client: a.HTTP, Redact: redact}
	}
	argv := append([]string(nil), d.Argv...)
	if len(argv) > 0 {
		argv[0] = a.Config.Abs(argv[0])
	}
	dry := append([]string(nil), d.DryRunArgv...)
	if len(dry) > 0 {
		dry[0] = a.Config.Abs(dry[0])
	}
	dir := a.Config.Abs(d.Dir)
	if dir == "" {
		dir = a.Config.Dir
	}
	return deploy.Exec{Argv: argv, DryRunArgv: dry, Dir: dir, Env: d.Environ(), Timeout: d.Timeout.D(), Redact: redact}
}

func (a *Activities) probe(t *config.Target) probe.Target {
	return probe.Target{BaseURL: t.BaseURL, Client: a.HTTP, AdminPath: t.Probe.AdminPath, Timeout: t.Probe.Timeout.D()}
}

func (a *Activities) credentials(t *config.Target) (probe.Credentials, error) {
	pw, err := a.Config.Resolve("targets."+t.Name+".probe.password", t.Probe.Password)
	if err != nil {
		return probe.Credentials{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	return probe.Credentials{Username: t.Probe.Username, Password: pw}, nil
}

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
func versionRef(ctx context.Context, s *secretstore.File, id string) (contract.VersionRef, string, error) {
	v, err := s.Value(ctx, id)
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return contract.VersionRef{}, "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("secret version %s not found", id), ErrTypeConflict, nil)
		}
		return contract.VersionRef{}, "", err
	}
	return contract.VersionRef{ID: id, Fingerprint: s.Fingerprint(v)}, v, nil
}
