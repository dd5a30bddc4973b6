// Command worker hosts the authops workflows and activities.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/temporalutil"
	"github.com/authops/authops/worker/register"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := config.Load(config.Path(""))
	if err != nil {
		return err
	}
	for _, name := range cfg.TargetNames() {
		t, _ := cfg.Target(name)
		if err := cfg.CheckRefs(t); err != nil {
			// Not fatal: the target may be set up later; its pre-checks will say so.
			logger.Warn("target not ready", "target", name, "error", err)
		}
	}
	c, err := temporalutil.Dial(logger)
	if err != nil {
		return err
	}
	defer c.Close()

	// The client also tells the activities whether the run that left a pending secret version
	// behind has closed.
	deps := register.Deps{Config: cfg, Notifier: notify.Log{Logger: logger}, Runs: c}
	// Without the peer key no run could preempt, hand over or announce: stop here instead.
	if deps.PeerKey, err = register.LoadPeerKey(cfg); err != nil {
		return err
	}
	// Slack is off the runbooks' critical path: announcements go to a notification workflow per
	// channel, which posts them and catches up after an outage.
	if s := notify.SlackFromEnv(&http.Client{Timeout: 20 * time.Second}); s != nil {
		deps.Slack = &activities.SlackNotifier{Slack: s}
		logger.Info("slack notifier on", "api", slackAPI())
	} else {
		logger.Info("slack notifier off: " + notify.EnvSlackBotToken + " is not set; announcements are logged only")
	}
	w := register.New(c, deps)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("worker started", "targets", cfg.TargetNames())
	if err := w.Run(interruptCh(ctx)); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped gracefully")
	return nil
}

// slackAPI names the Slack API the notifier talks to (never the token).
func slackAPI() string {
	if u := os.Getenv(notify.EnvSlackAPIURL); u != "" {
		return u
	}
	return "slack.com"
}

// interruptCh turns ctx into the channel worker.Run stops on; Run then drains in-flight tasks.
func interruptCh(ctx context.Context) <-chan any {
	ch := make(chan any, 1)
	go func() {
		<-ctx.Done()
		ch <- struct{}{}
	}()
	return ch
}
