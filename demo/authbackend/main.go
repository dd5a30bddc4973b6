// Command authbackend is a small but real JWT auth service: the demo target
// that authops' runbooks rotate secrets for, revoke sessions on and probe.
// See docs/contracts.md ("Demo auth backend HTTP API").
package main

import (
	"context"
	"errors"
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
	"golang.org/x/crypto/bcrypt"
)

const (
	defaultAddr    = "127.0.0.1:8081"
	defaultIssuer  = "authbackend-demo"
	shutdownGrace  = 5 * time.Second
	restartTimeout = 15 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := newRootCommand(os.Getenv, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "authbackend: %v\n", err)
		os.Exit(1)
	}
}

// serveOptions are the flags of the root command.
type serveOptions struct {
	addr           string
	usersFile      string
	envFile        string
	adminTokenFile string
	stateFile      string
	issuer         string
	accessTTL      time.Duration
	pidFile        string
	// bcryptCost is 0 (bcrypt.DefaultCost) but in tests and load runs (the hidden --bcrypt-cost):
	// a hash costs 155 ms of CPU at the default, and fifty backends restarting at once would
	// measure bcrypt rather than the runbooks.
	bcryptCost int
}

func newRootCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var opts serveOptions
	root := &cobra.Command{
		Use:           "authbackend",
		Short:         "Demo JWT auth backend",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error once
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd.Context(), opts, getenv, stderr)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.Flags()
	f.StringVar(&opts.addr, "addr", defaultAddr, "listen address HOST:PORT")
	f.StringVar(&opts.usersFile, "users", "", `users file: JSON list of {"username","password","role"}`)
	f.StringVar(&opts.envFile, "env-file", "", "dotenv file holding JWT_SECRET (else the environment is used)")
	f.StringVar(&opts.adminTokenFile, "admin-token-file", "", "file holding the control API token (else $"+adminTokenEnv+")")
	f.StringVar(&opts.stateFile, "state-file", "", "JSON file persisting sessions and controls (empty: memory only)")
	f.StringVar(&opts.issuer, "issuer", defaultIssuer, "JWT iss claim")
	f.DurationVar(&opts.accessTTL, "access-ttl", 15*time.Minute, "access token lifetime")
	f.StringVar(&opts.pidFile, "pid-file", "", "file to write the pid to while running")
	f.IntVar(&opts.bcryptCost, "bcrypt-cost", 0, fmt.Sprintf("bcrypt cost of the users' password hashes, %d..%d (load tests only; 0: the default %d)",
		bcrypt.MinCost, bcrypt.MaxCost, bcrypt.DefaultCost))
	_ = f.MarkHidden("bcrypt-cost")

	root.AddCommand(newRestartCommand(stdout))
	return root
}

func newRestartCommand(stdout io.Writer) *cobra.Command {
	var (
		pidFile string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "restart",
		Short: "Stop the running authbackend (SIGTERM) and wait for it to exit, so its supervisor starts it again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pidFile == "" {
				return errors.New("restart needs --pid-file")
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, got %s", timeout)
			}
			return restartProcess(cmd.Context(), pidFile, timeout, stdout)
		},
	}
	cmd.Flags().StringVar(&pidFile, "pid-file", "", "pid file of the running authbackend")
	cmd.Flags().DurationVar(&timeout, "timeout", restartTimeout, "how long to wait for the process to exit")
	return cmd
}

// runServer loads the configuration, serves until ctx is cancelled (SIGTERM
// or SIGINT), then shuts down gracefully and removes the pid file.
func runServer(ctx context.Context, opts serveOptions, getenv func(string) string, stderr io.Writer) error {
	if c := opts.bcryptCost; c != 0 && (c < bcrypt.MinCost || c > bcrypt.MaxCost) {
		return fmt.Errorf("--bcrypt-cost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c)
	}
	// The secret is checked first: without it nothing else matters.
	secret, err := loadSecret(opts.envFile, getenv)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	adminToken, err := loadAdminToken(opts.adminTokenFile, getenv)
	if err != nil {
		return err
	}
	var users []userEntry
	if opts.usersFile != "" {
		if users, err = readUsersFile(opts.usersFile); err != nil {
			return err
		}
	} else {
		logger.Warn("no --users file: every login will fail")
	}
	if adminToken == "" {
		logger.Warn("no admin token: the control API is disabled")
	}
	if opts.stateFile == "" {
		logger.Warn("no --state-file: sessions and controls are lost on restart")
	}

	userCount := len(users)
	srv, err := newServer(serverConfig{
		secret:     secret,
		issuer:     opts.issuer,
		accessTTL:  opts.accessTTL,
		adminToken: adminToken,
		users:      users,
		stateFile:  opts.stateFile,
		logger:     logger,
		logLevel:   level,
		bcryptCost: opts.bcryptCost,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.addr, err)
	}
	pid := os.Getpid()
	if opts.pidFile != "" {
		if err := writePIDFile(opts.pidFile, pid); err != nil {
			_ = ln.Close()
			return err
		}
		defer func() {
			if err := removePIDFile(opts.pidFile, pid); err != nil {
				logger.Error("remove pid file", "error", err.Error())
			}
		}()
	}

	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "pid", pid, "issuer", opts.issuer,
		"users", userCount, "control_api", adminToken != "")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		// Requests still running after the grace period are cut off: a
		// stop must not hang the supervisor's restart.
		logger.Warn("grace period over, closing connections", "error", err.Error())
		_ = httpSrv.Close()
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
