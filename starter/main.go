// Command starter is the client side of authops: it starts, signals and queries runbook runs.
// It never touches a secret or a target.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/authops/authops/internal/temporalutil"
)

// version is set with -ldflags at build time.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		stop()
		os.Exit(1)
	}
}

// app carries what commands share: flags and a lazily dialed client.
type app struct {
	configPath string
	dial       func() (client.Client, error)
}

func newRoot() *cobra.Command {
	a := &app{dial: func() (client.Client, error) {
		// Quiet SDK logs: the CLI's output is for people.
		return temporalutil.Dial(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}}
	root := &cobra.Command{
		Use:   "starter",
		Short: "Start and steer authops security runbooks",
		Long: `starter starts, approves, rolls back and inspects authops runbook runs on Temporal.
Connection settings come from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_* or a Temporal config profile; targets come from runbook.yaml (--config or AUTHOPS_CONFIG).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "runbook config file (default $AUTHOPS_CONFIG or runbook.yaml)")
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the starter version",
			Args:  cobra.NoArgs,
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "authops starter", version) },
		},
		a.rotateCmd(),
		a.invalidateCmd(),
		a.scheduleCmd(),
		a.decisionCmd("approve", "Approve a run (must be a second person from the target's approvers)", "approve"),
		a.decisionCmd("reject", "Reject a run waiting for approval", "reject"),
		a.decisionCmd("rollback", "Roll back a completed rotation during its observation window", "rollback"),
		a.decisionCmd("resolve", "Mark an escalated run (failed rollback) as resolved by a human", "resolve"),
		a.decisionCmd("lift-restrictions", "Lift an emergency run's route restrictions now", "lift-restrictions"),
		a.statusCmd(),
		a.timelineCmd(),
	)
	return root
}
