// Command worker hosts the authops workflows and activities.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

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
	w := register.New(c, register.Deps{Config: cfg, Notifier: notify.Log{Logger: logger}, Runs: c})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("worker started", "targets", cfg.TargetNames())
	if err := w.Run(interruptCh(ctx)); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped gracefully")
	return nil
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
