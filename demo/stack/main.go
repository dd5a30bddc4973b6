// Command devstack runs the local authops stack in the foreground, as `make up` does: the
// Temporal dev server, the demo auth backend and the worker, each supervised and restarted when
// it exits. Ctrl-C stops them all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stderr := &lockedWriter{w: os.Stderr}
	cfg, err := parseFlags(os.Args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(stderr, "devstack: %v\n", err)
		os.Exit(2)
	}

	// Signals stay captured until exit, so a second Ctrl-C cannot kill devstack and orphan the
	// children: they live in their own process groups and do not get the terminal's SIGINT.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := run(ctx, cfg, log, os.Stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "devstack: %v\n", err)
		stop()
		os.Exit(1)
	}
}
