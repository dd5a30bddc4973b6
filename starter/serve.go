package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/starter/gateway"
)

// Environment of `starter serve`.
const (
	envSigningSecret = "SLACK_SIGNING_SECRET"
	envBotToken      = "SLACK_BOT_TOKEN"
	envAppToken      = "SLACK_APP_TOKEN"
	envAPIURL        = "SLACK_API_URL"
	envGatewayKey    = "AUTHOPS_GATEWAY_KEY"
	envAlertToken    = "ALERTMANAGER_TOKEN"
)

func (a *app) serveCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8090]",
		Short: "Run the Slack gateway and the Alertmanager webhook",
		Long: `serve runs the gateway: POST /slack/commands (/runbook), POST /slack/interactions (approval
buttons, modals), POST /webhooks/alertmanager, GET /freeze (read-only freeze state for CI/CD)
and GET /healthz. With SLACK_APP_TOKEN set, the same Slack commands and interactions also come
over Socket Mode: each envelope is acknowledged once it is handed to Temporal, or refused.

Environment:
  SLACK_APP_TOKEN       app-level token (xapp-…, scope connections:write): serve Slack over
                        Socket Mode, a websocket the gateway opens; no public URL needed
  SLACK_SIGNING_SECRET  serve Slack over HTTP: verifies every request to the /slack routes
                        (unset: those routes are off)
  SLACK_BOT_TOKEN       for views.open (modals) and direct messages
  SLACK_API_URL         Slack Web API base URL (a test server or a proxy)
  AUTHOPS_GATEWAY_KEY   the gateway's private SSH key; its public key must be in gateway.keys
  ALERTMANAGER_TOKEN    bearer token of the Alertmanager webhook (unset: the webhook is off)

Starts and decisions from Slack are signed with the gateway's key on behalf of the person whose
slack_id sent them; runs verify them as any signed statement. The gateway dials Temporal lazily,
so it starts and answers while Temporal is down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), addr, os.Getenv, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen `ADDRESS`")
	return cmd
}

// serve runs the gateway until ctx is done: the HTTP routes, and Socket Mode when
// SLACK_APP_TOKEN is set.
func (a *app) serve(ctx context.Context, addr string, getenv func(string) string, logw io.Writer) error {
	logger := slog.New(slog.NewTextHandler(logw, nil))
	srv, runs, err := a.newGateway(getenv, logger)
	if err != nil {
		return err
	}
	defer runs.c.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("gateway listening", "addr", ln.Addr().String())
	// Socket Mode stops before the rest: it acks the envelopes in hand first.
	sockCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	sockErr, sockDone := make(chan error, 1), make(chan struct{})
	if token := getenv(envAppToken); token != "" {
		go func() {
			defer close(sockDone)
			if err := srv.SocketMode(sockCtx, gateway.SocketOptions{AppToken: token}); err != nil {
				sockErr <- err
			}
		}()
	} else {
		close(sockDone)
	}
	var failed error
	select {
	case err := <-errc:
		stopSocket()
		<-sockDone
		srv.Close()
		return err
	case err := <-sockErr:
		failed = fmt.Errorf("%s: %w", envAppToken, err)
		logger.Error("Slack Socket Mode stopped", "err", err)
	case <-ctx.Done():
	}
	stopSocket()
	<-sockDone
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.Close()
	if failed != nil {
		return failed
	}
	return err
}

// newGateway builds the gateway from the config and the environment.
func (a *app) newGateway(getenv func(string) string, logger *slog.Logger) (*gateway.Server, *gatewayRuns, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	people := map[string]string{}
	for name, p := range cfg.PeopleByName {
		if p != nil && p.SlackID != "" {
			people[p.SlackID] = name
		}
	}
	key, err := loadGatewayKey(cfg, getenv(envGatewayKey))
	if err != nil {
		return nil, nil, err
	}
	if key == nil {
		logger.Warn("no gateway key (" + envGatewayKey + "): starts and decisions from Slack and alerts are refused")
	}
	if token := getenv(envAppToken); token != "" {
		if err := gateway.CheckAppToken(token); err != nil {
			return nil, nil, err
		}
	}
	c, err := lazyClient(logger)
	if err != nil {
		return nil, nil, err
	}
	runs := &gatewayRuns{a: a, c: c, key: key, now: time.Now, alertsMaxOpen: cfg.Alerts.MaxOpen}
	srv := gateway.New(gateway.Options{
		SigningSecret: getenv(envSigningSecret),
		BotToken:      getenv(envBotToken),
		APIURL:        getenv(envAPIURL),
		AlertToken:    getenv(envAlertToken),
		Targets:       cfg.TargetNames(),
		// An alert with no target label freezes these, or nothing.
		AlertDefaultTargets: cfg.Alerts.DefaultTargets,
		People:              people,
		Runs:                runs,
		Log:                 logger,
	})
	logger.Info(slackModes(srv.SlackOn(), getenv(envAppToken) != ""))
	if (srv.SlackOn() || getenv(envAppToken) != "") && getenv(envBotToken) == "" {
		logger.Warn("Slack is on without " + envBotToken + ": no modals (incident declare form, reject reason) and no direct messages")
	}
	if getenv(envAlertToken) == "" {
		logger.Info("Alertmanager webhook is off: " + envAlertToken + " is not set")
	}
	return srv, runs, nil
}

// slackModes is the startup line that says whether Slack is on, and over which transports.
func slackModes(httpOn, socketOn bool) string {
	switch {
	case httpOn && socketOn:
		return "Slack is on: Socket Mode (" + envAppToken + ") and HTTP (POST /slack/commands, /slack/interactions)"
	case socketOn:
		return "Slack is on: Socket Mode (" + envAppToken + "); the HTTP Slack routes are off (" + envSigningSecret + " is not set)"
	case httpOn:
		return "Slack is on: HTTP (POST /slack/commands, /slack/interactions); Socket Mode is off (" + envAppToken + " is not set)"
	}
	return "Slack is off: neither " + envAppToken + " (Socket Mode) nor " + envSigningSecret +
		" (HTTP) is set; serving the Alertmanager webhook, /freeze and /healthz"
}

// loadGatewayKey reads the gateway's private key and checks that the config lists its public key
// in gateway.keys: otherwise every run would refuse what the gateway signs. No path: no key.
func loadGatewayKey(cfg *config.Config, path string) (ssh.Signer, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envGatewayKey, err)
	}
	key, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not an unencrypted OpenSSH private key: %w", envGatewayKey, path, err)
	}
	listed, err := cfg.GatewayKeys()
	if err != nil {
		return nil, err
	}
	want := key.PublicKey().Marshal()
	for _, line := range listed {
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil && bytes.Equal(k.Marshal(), want) {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%s: key %s is not in the config's gateway.keys, so runs would refuse what it signs",
		envGatewayKey, ssh.FingerprintSHA256(key.PublicKey()))
}

// lazyClient is a Temporal client that connects on first use, with the settings
// temporalutil.Dial loads, so the gateway starts and answers while Temporal is down.
func lazyClient(logger *slog.Logger) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("load Temporal client settings: %w", err)
	}
	opts.Logger = log.NewStructuredLogger(slog.New(logger.Handler()).With("component", "temporal-sdk"))
	if opts.Identity == "" {
		opts.Identity = gatewayIdentity()
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	return c, nil
}

// gatewayIdentity is the client identity of the gateway's requests, which Temporal records with
// each Update; signed statements claim the same.
func gatewayIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "Unknown"
	}
	return fmt.Sprintf("%d@%s@authops-gateway", os.Getpid(), host)
}

// gatewayRuns carries out the gateway's requests with the CLI's own commands, signed with the
// gateway's key on behalf of the Slack user's person.
type gatewayRuns struct {
	a   *app
	c   client.Client
	key ssh.Signer
	now func() time.Time
	// alertsMaxOpen is alerts.max_open (0: the default).
	alertsMaxOpen int
}

var errNoGatewayKey = errors.New("the gateway has no signing key (" + envGatewayKey + "); nothing was sent")

// gatewayClient is the shared client as one command sees it: Close does nothing, a decision's
// Update gets the gateway's id, and a button's run must still be the run it was posted for.
type gatewayClient struct {
	client.Client
	updateID   string
	firstRunID string
}

func (gatewayClient) Close() {}

// errOutdated: the button was posted for an earlier run of the same workflow id.
type errOutdated struct{ id, want, got string }

func (e *errOutdated) Error() string {
	return fmt.Sprintf("this message is outdated: it was posted for run %s of %s, which is now run %s; nothing was decided",
		e.want, e.id, e.got)
}

func (c gatewayClient) DescribeWorkflow(ctx context.Context, id, runID string) (*client.WorkflowExecutionDescription, error) {
	desc, err := c.Client.DescribeWorkflow(ctx, id, runID)
	if err != nil {
		return nil, err
	}
	if got := desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId(); c.firstRunID != "" && got != c.firstRunID {
		return nil, &errOutdated{id: id, want: c.firstRunID, got: got}
	}
	return desc, nil
}

// DescribeWorkflowExecution is the SDK's deprecated form of DescribeWorkflow; it checks the run
// the same way, so that no path through the wrapper skips the check.
func (c gatewayClient) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	desc, err := c.DescribeWorkflow(ctx, id, runID)
	if err != nil {
		return nil, err
	}
	return desc.RawResponse, nil
}

func (c gatewayClient) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if c.updateID != "" {
		o.UpdateID = c.updateID
	}
	return c.Client.UpdateWorkflow(ctx, o)
}

// appFor is the CLI as one Slack user drives it: the shared client, and a signer that signs
// with the gateway's key only for the person that user is.
func (g *gatewayRuns) appFor(who gateway.Actor, c gatewayClient) *app {
	return &app{
		configPath: g.a.configPath,
		dial:       func() (client.Client, error) { return c, nil },
		namespace:  g.a.namespace,
		identity:   gatewayIdentity,
		signAs: func(cfg *config.Config, flag, actor string) (*signer, error) {
			if g.key == nil {
				return nil, errNoGatewayKey
			}
			if err := checkPerson(cfg, flag, actor); err != nil {
				return nil, err
			}
			p, _ := cfg.Person(actor)
			if actor != who.Person || p.SlackID == "" || p.SlackID != who.SlackUser {
				//lint:ignore ST1005 "Slack" is a proper noun
				return nil, fmt.Errorf("Slack user %s is not %s in people:; nothing was sent", who.SlackUser, actor)
			}
			ns, err := g.a.namespace()
			if err != nil {
				return nil, err
			}
			return &signer{actor: actor, key: g.key, close: func() error { return nil }, namespace: ns,
				identity: gatewayIdentity(), via: statement.ViaSlack, slackUser: who.SlackUser}, nil
		},
	}
}

// cli runs one starter command for who and returns what it printed.
func (g *gatewayRuns) cli(ctx context.Context, who gateway.Actor, c gatewayClient, args ...string) (string, error) {
	root := newRootFor(g.appFor(who, c))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	if g.a.configPath != "" {
		args = append([]string{"--config=" + g.a.configPath}, args...)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// Run carries out a /runbook command. Every value the sender typed goes in as a flag's value
// (--flag=value) or after "--", so nothing typed in Slack can become a flag.
func (g *gatewayRuns) Run(ctx context.Context, who gateway.Actor, cmd gateway.Command) (string, error) {
	args, err := g.args(who, cmd)
	if err != nil {
		return "", err
	}
	return g.cli(ctx, who, gatewayClient{Client: g.c, updateID: cmd.UpdateID}, args...)
}

// args are the starter arguments of a command.
func (g *gatewayRuns) args(who gateway.Actor, cmd gateway.Command) ([]string, error) {
	as := "--as=" + who.Person
	opt := func(args []string, flag, value string) []string {
		if value == "" {
			return args
		}
		return append(args, flag+"="+value)
	}
	switch cmd.Verb {
	case "status":
		return []string{"status", "--", cmd.ID}, nil
	case "freeze":
		return []string{"freeze", "status"}, nil
	case "rotate":
		args := []string{"rotate", "--target=" + cmd.Target, "--requested-by=" + who.Person}
		args = opt(args, "--reason", cmd.Text)
		if at, ok := g.windowStart(cmd); ok {
			args = append(args, "--window-start="+at.Format(time.RFC3339))
		}
		return args, nil
	case "invalidate":
		args := []string{"invalidate", "--target=" + cmd.Target, "--requested-by=" + who.Person, "--reason=" + cmd.Text}
		args = opt(args, "--restrict", strings.Join(cmd.Restrict, ","))
		if cmd.BreakGlass {
			args = append(args, "--break-glass")
		}
		return args, nil
	case "declare":
		args := []string{"incident", "declare", "--trigger=" + cmd.Trigger, "--severity=" + cmd.Severity, "--summary=" + cmd.Text,
			"--reporter=" + who.Person, "--id=" + cmd.ID, "--source=slack"}
		for _, t := range cmd.Targets {
			args = append(args, "--target="+t)
		}
		return args, nil
	case "owner", "verify":
		return append(opt([]string{"incident", cmd.Verb, as}, "--comment", cmd.Text), "--", cmd.ID), nil
	case "note":
		args := []string{"incident", "note", as}
		if cmd.Status {
			args = append(args, "--status")
		}
		return append(args, "--", cmd.ID, cmd.Text), nil
	case "contain":
		args := []string{"incident", "contain", as}
		args = opt(args, "--target", cmd.Target)
		args = opt(args, "--reason", cmd.Text)
		args = opt(args, "--restrict", strings.Join(cmd.Restrict, ","))
		if cmd.TTL > 0 {
			args = append(args, "--ttl="+cmd.TTL.String())
		}
		if cmd.Force {
			args = append(args, "--force")
		}
		args = append(args, "--", cmd.ID, cmd.Kind)
		if cmd.Arg != "" {
			args = append(args, cmd.Arg)
		}
		return args, nil
	case "resolve":
		args := []string{"incident", "resolve", as, "--summary=" + cmd.Text}
		for _, k := range cmd.Keep {
			args = append(args, "--keep="+k)
		}
		return append(args, "--", cmd.ID), nil
	case "approve", "reject":
		args := opt([]string{cmd.Verb, as}, "--comment", cmd.Text)
		args = opt(args, "--action", cmd.Action)
		return append(args, "--", cmd.ID), nil
	}
	return nil, fmt.Errorf("%q is not a command the gateway runs", cmd.Verb)
}

// windowStart is a rotation's window start: in a duration, at a time, or at the next HH:MM UTC.
func (g *gatewayRuns) windowStart(cmd gateway.Command) (time.Time, bool) {
	now := g.now().UTC()
	switch {
	case cmd.In > 0:
		return now.Add(cmd.In).Truncate(time.Second), true
	case !cmd.At.IsZero():
		return cmd.At, true
	case cmd.AtClock != "":
		t, err := time.Parse("15:04", cmd.AtClock)
		if err != nil {
			return time.Time{}, false
		}
		at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		if !at.After(now) {
			at = at.Add(24 * time.Hour)
		}
		return at, true
	}
	return time.Time{}, false
}

// Decide sends a button's decision: for the run the button was posted for, under the click's
// Update id.
func (g *gatewayRuns) Decide(ctx context.Context, who gateway.Actor, d gateway.Decision) (string, error) {
	args := []string{d.Name, "--as=" + who.Person}
	if d.Comment != "" {
		args = append(args, "--comment="+d.Comment)
	}
	if d.Button.Action != "" {
		args = append(args, "--action="+d.Button.Action)
	}
	args = append(args, "--", d.Button.WorkflowID)
	out, err := g.cli(ctx, who, gatewayClient{Client: g.c, updateID: d.UpdateID, firstRunID: d.Button.FirstRunID}, args...)
	var outdated *errOutdated
	if errors.As(err, &outdated) {
		return outdated.Error(), nil
	}
	return out, err
}

// Freezes lists the running incidents' freezes.
func (g *gatewayRuns) Freezes(ctx context.Context) ([]freeze.Freeze, error) {
	ns, err := g.a.namespace()
	if err != nil {
		return nil, err
	}
	return freeze.List(ctx, g.c, ns, "")
}
