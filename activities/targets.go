package activities

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/deploy"
	"github.com/authops/authops/internal/envfile"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/secretstore"
)

// Targets reads a configured target and builds its adapters: secret store, env sink, deployer,
// probes and control API. The activity types that act on a target embed it; it has no exported
// method, so it adds no activity of its own.
type Targets struct {
	Config *config.Config
	// HTTP is used for probes, the control API and an http deployer; nil means a client with a
	// 5s timeout.
	HTTP *http.Client
}

func (a *Targets) target(name string) (*config.Target, error) { return configTarget(a.Config, name) }

// configTarget looks a target up in cfg; an unknown target is a non-retryable error.
func configTarget(cfg *config.Config, name string) (*config.Target, error) {
	t, err := cfg.Target(name)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return t, nil
}

// store opens t's secret store; ctx bounds a Vault store's login and fingerprint key read.
func (a *Targets) store(ctx context.Context, t *config.Target) (secretStore, error) {
	if t.SecretStore.Kind == "vault" {
		return a.vaultStore(ctx, t)
	}
	s, err := secretstore.OpenFile(a.Config.Abs(t.SecretStore.Dir), t.SecretStore.Name)
	if err != nil {
		return nil, fmt.Errorf("open secret store of %s: %w", t.Name, err)
	}
	return s, nil
}

// vaultStore logs in to the target's Vault. The token or secret id is read from its reference
// on each open, so a token file that an agent renews is picked up by the next attempt.
func (a *Targets) vaultStore(ctx context.Context, t *config.Target) (secretStore, error) {
	ss := t.SecretStore
	cfg := secretstore.VaultConfig{Address: ss.Address, Mount: ss.Mount, Path: ss.Path}
	field := "targets." + t.Name + ".secret_store.auth."
	var err error
	switch {
	case ss.Auth.Token != nil:
		cfg.Token, err = a.Config.Resolve(field+"token", *ss.Auth.Token)
	case ss.Auth.AppRole != nil:
		cfg.RoleID = ss.Auth.AppRole.RoleID
		cfg.SecretID, err = a.Config.Resolve(field+"approle.secret_id", ss.Auth.AppRole.SecretID)
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	s, err := secretstore.OpenVault(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open secret store of %s: %w", t.Name, err)
	}
	return s, nil
}

// targetStore returns a target and its secret store.
func (a *Targets) targetStore(ctx context.Context, name string) (*config.Target, secretStore, error) {
	t, err := a.target(name)
	if err != nil {
		return nil, nil, err
	}
	s, err := a.store(ctx, t)
	return t, s, err
}

func (a *Targets) sink(t *config.Target) envfile.Dotenv {
	return envfile.Dotenv{Path: a.Config.Abs(t.EnvSink.Path)}
}

// deployer is what a rotation needs from a deploy path.
type deployer interface {
	Deploy(ctx context.Context) (deploy.Report, error)
	DryRun(ctx context.Context) error
}

func (a *Targets) deployer(t *config.Target, redact ...string) deployer {
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

func (a *Targets) probe(t *config.Target) probe.Target {
	e := t.Probe.Endpoints
	return probe.Target{BaseURL: t.BaseURL, Client: a.HTTP, AdminPath: t.Probe.AdminPath, Timeout: t.Probe.Timeout.D(),
		Endpoints: probe.Endpoints{
			LoginPath: e.Login.Path, UsernameField: e.Login.UsernameField, PasswordField: e.Login.PasswordField,
			TokenField: e.Login.TokenField, RefreshField: e.Login.RefreshField, SessionCookie: e.Login.Cookie,
			IdentityPath: e.Identity.Path, IdentityField: e.Identity.UsernameField, RefreshPath: e.Refresh.Path,
		}}
}

func (a *Targets) credentials(t *config.Target) (probe.Credentials, error) {
	pw, err := a.Config.Resolve("targets."+t.Name+".probe.password", t.Probe.Password)
	if err != nil {
		return probe.Credentials{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return probe.Credentials{Username: t.Probe.Username, Password: pw}, nil
}

// roleCredentials are the credentials of a critical endpoint's role: the probe user, or the
// admin probe for "admin".
func (a *Targets) roleCredentials(t *config.Target, as string) (probe.Credentials, error) {
	if as != "admin" {
		return a.credentials(t)
	}
	pw, err := a.Config.Resolve("targets."+t.Name+".probe.admin_password", t.Probe.AdminPassword)
	if err != nil {
		return probe.Credentials{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return probe.Credentials{Username: t.Probe.AdminUsername, Password: pw}, nil
}

func (a *Targets) controls(t *config.Target) (controls.Client, error) {
	tok, err := a.Config.Resolve("targets."+t.Name+".admin.token", t.Admin.Token)
	if err != nil {
		return controls.Client{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return controls.Client{BaseURL: t.BaseURL, Token: tok, HTTP: a.HTTP}, nil
}

func (a *Targets) httpClient(t *config.Target) *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	timeout := t.Probe.Timeout.D()
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
