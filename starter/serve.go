package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/config"
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
so it starts and answers while Temporal is down. SIGHUP reloads the config (people, targets,
gateway.keys) and logs what changed; a config that does not load changes nothing.`,
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
	srv, gw, err := a.newGateway(getenv, logger)
	if err != nil {
		return err
	}
	defer gw.Close()
	// SIGHUP reloads the config: people, targets and gateway keys change without a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				gw.reload(srv, logger)
			case <-ctx.Done():
				return
			}
		}
	}()
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
	path := config.Path(a.configPath)
	cfg, err := loadWholeConfig(path)
	if err != nil {
		return nil, nil, err
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
	gw := newGatewayRuns(a, c, cfg, key, logger)
	gw.path = path // what SIGHUP reloads
	dir := directory(cfg)
	srv := gateway.New(gateway.Options{
		SigningSecret: getenv(envSigningSecret),
		BotToken:      getenv(envBotToken),
		APIURL:        getenv(envAPIURL),
		AlertToken:    getenv(envAlertToken),
		Targets:       dir.Targets,
		// An alert with no target label freezes these, or nothing.
		AlertDefaultTargets: dir.AlertDefaultTargets,
		People:              dir.People,
		Runs:                gw,
		Log:                 logger,
	})
	logger.Info(slackModes(srv.SlackOn(), getenv(envAppToken) != ""))
	if (srv.SlackOn() || getenv(envAppToken) != "") && getenv(envBotToken) == "" {
		logger.Warn("Slack is on without " + envBotToken + ": no modals (incident declare form, reject reason) and no direct messages")
	}
	if getenv(envAlertToken) == "" {
		logger.Info("Alertmanager webhook is off: " + envAlertToken + " is not set")
	}
	return srv, gw, nil
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
	if err := checkGatewayKey(cfg, key); err != nil {
		return nil, err
	}
	return key, nil
}

// checkGatewayKey refuses a config whose gateway.keys do not list key.
func checkGatewayKey(cfg *config.Config, key ssh.Signer) error {
	listed, err := cfg.GatewayKeys()
	if err != nil {
		return err
	}
	want := key.PublicKey().Marshal()
	for _, line := range listed {
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil && bytes.Equal(k.Marshal(), want) {
			return nil
		}
	}
	return fmt.Errorf("%s: key %s is not in the config's gateway.keys, so runs would refuse what it signs",
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
