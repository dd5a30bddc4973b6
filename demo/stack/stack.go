package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	authopsconfig "github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/supervise"
	"github.com/authops/authops/internal/temporalutil"
)

const (
	temporalReadyTimeout = 60 * time.Second
	backendReadyTimeout  = 30 * time.Second
)

type config struct {
	varDir       string
	binDir       string
	configFile   string
	temporalPort int
	uiPort       int
	backendAddr  string
	gatewayAddr  string
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var cfg config
	flags := flag.NewFlagSet("devstack", flag.ContinueOnError)
	flags.SetOutput(output)
	flags.StringVar(&cfg.varDir, "var", "var", "directory for local state (Temporal database, demo files)")
	flags.StringVar(&cfg.binDir, "bin", "bin", "directory holding the temporal, authbackend and worker binaries")
	flags.StringVar(&cfg.configFile, "config", "runbook.yaml", "runbook config passed to the worker as AUTHOPS_CONFIG")
	flags.IntVar(&cfg.temporalPort, "temporal-port", 7233, "Temporal frontend (gRPC) port")
	flags.IntVar(&cfg.uiPort, "ui-port", 8233, "Temporal Web UI port")
	flags.StringVar(&cfg.backendAddr, "backend-addr", "127.0.0.1:8081", "demo auth backend listen address")
	flags.StringVar(&cfg.gatewayAddr, "gateway-addr", "127.0.0.1:8090", "Slack gateway and Alertmanager webhook (bin/starter serve) listen address; empty: no gateway")
	if err := flags.Parse(args); err != nil {
		return config{}, err
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(flags.Args(), " "))
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	for _, p := range []struct {
		flag string
		port int
	}{{"--temporal-port", c.temporalPort}, {"--ui-port", c.uiPort}} {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%s %d: not a port number", p.flag, p.port)
		}
	}
	if c.temporalPort == c.uiPort {
		return fmt.Errorf("--temporal-port and --ui-port are both %d", c.uiPort)
	}
	_, port, err := net.SplitHostPort(c.backendAddr)
	if err != nil {
		return fmt.Errorf("--backend-addr %q: %w", c.backendAddr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--backend-addr %q: not a port number", c.backendAddr)
	}
	if n == c.temporalPort || n == c.uiPort {
		return fmt.Errorf("--backend-addr %q uses a Temporal port", c.backendAddr)
	}
	return nil
}

func (c config) temporalAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.temporalPort))
}

// backendURL is where clients reach the backend; a wildcard listen address is reached locally.
func (c config) backendURL() string {
	host, port, _ := net.SplitHostPort(c.backendAddr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ports lists every port the stack listens on, with what it is for.
func (c config) ports() []portUse {
	return []portUse{
		{addr: c.temporalAddr(), purpose: "Temporal frontend", flag: "--temporal-port"},
		{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.uiPort)), purpose: "Temporal Web UI", flag: "--ui-port"},
		{addr: c.backendAddr, purpose: "demo auth backend", flag: "--backend-addr"},
	}
}

// run starts the stack, waits until ctx is done, and stops it again. Every process it started
// has exited when run returns.
func run(ctx context.Context, cfg config, log *slog.Logger, stdout, stderr io.Writer) error {
	if err := checkPorts(ctx, cfg.ports()); err != nil {
		return err
	}
	temporalBin := filepath.Join(cfg.binDir, "temporal")
	backendBin := filepath.Join(cfg.binDir, "authbackend")
	workerBin := filepath.Join(cfg.binDir, "worker")
	if err := checkBinaries(temporalBin, backendBin, workerBin); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.configFile); err != nil {
		log.Warn("runbook config not readable; the worker will keep restarting until it is", "config", cfg.configFile, "err", err)
	}

	if err := os.MkdirAll(cfg.varDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", cfg.varDir, err)
	}
	demo, err := demoenv.Prepare(filepath.Join(cfg.varDir, "demo"))
	if err != nil {
		return fmt.Errorf("prepare demo files: %w", err)
	}
	log.Info("demo files ready", "dir", demo.Dir)

	procs := &group{log: log, output: stderr}
	defer func() {
		procs.stop()
		log.Info("stack stopped")
	}()

	procs.start(&supervise.Process{
		Name: "temporal",
		Argv: []string{
			temporalBin, "server", "start-dev",
			"--ip", "127.0.0.1",
			"--port", strconv.Itoa(cfg.temporalPort),
			"--ui-port", strconv.Itoa(cfg.uiPort),
			"--db-filename", filepath.Join(cfg.varDir, "temporal.db"),
			"--namespace", "default",
			"--log-level", "warn",
			"--search-attribute", "AuthopsTarget=Keyword",
			"--search-attribute", "AuthopsRunbook=Keyword",
			"--search-attribute", "AuthopsBreakGlass=Bool",
			"--search-attribute", "AuthopsFrozenTargets=KeywordList",
			// Temporal 1.29 honours task priority (emergency work first) only with the new matcher.
			"--dynamic-config-value", "matching.useNewMatcher=true",
		},
	})
	if err := waitReady(ctx, temporalReadyTimeout, "Temporal frontend on "+cfg.temporalAddr(), tcpReady(cfg.temporalAddr())); err != nil {
		return startupError(ctx, err)
	}
	if err := ensureSearchAttributes(ctx, log, cfg.temporalAddr()); err != nil {
		return startupError(ctx, err)
	}

	procs.start(&supervise.Process{
		Name: "authbackend",
		Argv: []string{
			backendBin,
			"--addr", cfg.backendAddr,
			"--users", demo.UsersFile,
			"--env-file", demo.EnvFile,
			"--admin-token-file", demo.AdminTokenFile,
			"--state-file", demo.StateFile,
			"--pid-file", demo.PidFile,
		},
		// The files are the one source of the secret and the admin token: a stale value in the
		// shell must not shadow a rotation.
		Env: withoutVars(os.Environ(), "JWT_SECRET", "AUTHBACKEND_ADMIN_TOKEN"),
	})
	if err := waitReady(ctx, backendReadyTimeout, "demo backend at "+cfg.backendURL()+"/healthz", httpReady(cfg.backendURL()+"/healthz")); err != nil {
		return startupError(ctx, err)
	}

	procs.start(&supervise.Process{
		Name: "worker",
		Argv: []string{workerBin},
		Env: append(os.Environ(),
			"AUTHOPS_CONFIG="+cfg.configFile,
			"TEMPORAL_ADDRESS="+cfg.temporalAddr(),
		),
	})

	gatewayURL := startGateway(ctx, cfg, demo, procs, log)

	fmt.Fprintf(stdout, `
authops demo stack is up
  Temporal Web UI     http://localhost:%d
  Temporal frontend   %s
  Demo auth backend   %s
  Demo passwords      %s
  Gateway             %s
Ctrl-C to stop
`, cfg.uiPort, cfg.temporalAddr(), cfg.backendURL(), demo.PasswordsDir, gatewayURL)

	<-ctx.Done()
	log.Info("stopping the stack")
	return nil
}

// startGateway starts `bin/starter serve` when the config lists gateway keys, signing with the
// demo gateway key; Slack and the Alertmanager webhook come on with their environment variables
// (SLACK_SIGNING_SECRET, ALERTMANAGER_TOKEN, ...). A busy port or a missing binary only skips it.
func startGateway(ctx context.Context, cfg config, demo demoenv.Paths, procs *group, log *slog.Logger) string {
	if cfg.gatewayAddr == "" {
		return "off (--gateway-addr \"\")"
	}
	starterBin := filepath.Join(cfg.binDir, "starter")
	if err := checkBinaries(starterBin); err != nil {
		log.Warn("gateway not started", "err", err)
		return "not started: " + err.Error()
	}
	if c, err := authopsconfig.Load(cfg.configFile); err != nil || c.Gateway == nil {
		log.Info("gateway not started: the config lists no gateway keys", "config", cfg.configFile)
		return "off (no gateway: in the config)"
	}
	if err := portFree(ctx, cfg.gatewayAddr); err != nil {
		log.Warn("gateway not started", "addr", cfg.gatewayAddr, "err", err)
		return "not started: " + err.Error()
	}
	env := append(os.Environ(), "AUTHOPS_CONFIG="+cfg.configFile, "TEMPORAL_ADDRESS="+cfg.temporalAddr())
	if os.Getenv("AUTHOPS_GATEWAY_KEY") == "" {
		env = append(env, "AUTHOPS_GATEWAY_KEY="+demo.KeyFile(demoenv.GatewayKey))
	}
	procs.start(&supervise.Process{Name: "gateway", Argv: []string{starterBin, "serve", "--addr", cfg.gatewayAddr}, Env: env})
	return "http://" + cfg.gatewayAddr + " (/slack/commands, /slack/interactions, /webhooks/alertmanager, /freeze)"
}

// ensureSearchAttributes adds the search attributes a database made by an older stack lacks.
func ensureSearchAttributes(ctx context.Context, log *slog.Logger, addr string) error {
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: "default",
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("dial Temporal to register search attributes: %w", err)
	}
	defer c.Close()
	added, err := temporalutil.EnsureSearchAttributes(ctx, c, "default")
	if err != nil {
		return err
	}
	if len(added) > 0 {
		log.Info("registered search attributes", "added", strings.Join(added, ","))
	}
	return nil
}

// startupError hides the failed wait when the user pressed Ctrl-C during startup: stopping is
// what they asked for, not an error.
func startupError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// checkBinaries reports every missing binary at once.
func checkBinaries(paths ...string) error {
	var errs []error
	for _, path := range paths {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("%s not found: build it first (see the Makefile)", path))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("%s is not an executable file", path))
		}
	}
	return errors.Join(errs...)
}

// withoutVars returns env without the given variables.
func withoutVars(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// group runs supervised processes and stops them in reverse start order, so that the worker
// goes before the servers it talks to.
type group struct {
	log    *slog.Logger
	output io.Writer // shared by all children, each line tagged with the process name
	procs  []running
}

type running struct {
	name   string
	cancel context.CancelFunc
	done   <-chan struct{}
}

func (g *group) start(p *supervise.Process) {
	out := newPrefixWriter(g.output, p.Name)
	// One writer for both streams: exec then copies them through a single pipe.
	p.Stdout, p.Stderr = out, out
	p.Logger = g.log
	// Not derived from the signal context: on Ctrl-C each process is stopped in turn by stop.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			g.log.Error("supervisor failed", "process", p.Name, "err", err)
		}
	}()
	g.procs = append(g.procs, running{name: p.Name, cancel: cancel, done: done})
}

// stop returns once every process has exited.
func (g *group) stop() {
	for i := len(g.procs) - 1; i >= 0; i-- {
		g.procs[i].cancel()
		<-g.procs[i].done
	}
	g.procs = nil
}
