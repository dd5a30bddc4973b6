// Command starter is the client side of authops: it starts runs, sends signed decisions and
// queries runbook runs. It never touches a secret or a target.
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
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/authops/authops/internal/runs"
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

// app carries what commands share: flags, a lazily dialed client, and where the client's
// namespace and identity come from (for signed statements).
type app struct {
	configPath string
	keyFile    string
	dial       func() (client.Client, error)
	namespace  func() (string, error)
	identity   func() string

	cfg configOnce
}

// runs is the typed client of runs for one command. It reads the config once (loadConfig) and
// dials only when a request got past every local check.
func (a *app) runs() *runs.Client {
	return runs.New(runs.Options{
		Dial: func() (runs.Temporal, error) {
			c, err := a.dial()
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Config:    a.loadConfig,
		Namespace: a.namespace,
		Identity:  a.identity(),
	})
}

// signer signs as the CLI's user: --key, else the ssh-agent, else the demo key.
func (a *app) signer() runs.Signer {
	return runs.PersonKeys{KeyFile: a.keyFile, AgentSock: os.Getenv("SSH_AUTH_SOCK")}
}

func newRoot() *cobra.Command {
	return newRootFor(&app{
		dial: func() (client.Client, error) {
			// Quiet SDK logs: the CLI's output is for people.
			return temporalutil.Dial(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		},
		namespace: clientNamespace,
		identity:  clientIdentity,
	})
}

func newRootFor(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Start and steer authops security runbooks",
		Long: `starter starts, approves, rolls back and inspects authops runbook runs on Temporal.
Connection settings come from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_* or a Temporal config profile; targets and people come from runbook.yaml (--config or
AUTHOPS_CONFIG). Starts and decisions are signed with your SSH key: --key FILE, else the ssh-agent
($SSH_AUTH_SOCK), else the private key next to your .pub file in the config (the demo keys).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "runbook config file (default $AUTHOPS_CONFIG or runbook.yaml)")
	root.PersistentFlags().StringVar(&a.keyFile, "key", "", "private SSH key `FILE` to sign with (default: the ssh-agent, then the demo key next to your configured .pub file)")
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
		a.decisionCmd("cancel", "Cancel a run as a signed decision; a change in progress is rolled back first", "cancel"),
		a.statusCmd(),
		a.timelineCmd(),
		a.secretCmd(),
		a.incidentCmd(),
		a.freezeCmd(),
		a.reportCmd(),
		a.serveCmd(),
	)
	return root
}

// clientNamespace is the namespace the client dials, loaded the way temporalutil.Dial loads
// its settings (TEMPORAL_NAMESPACE, config profiles); "default" when none is set.
func clientNamespace() (string, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return "", fmt.Errorf("load Temporal client settings: %w", err)
	}
	if opts.Namespace == "" {
		return client.DefaultNamespace, nil
	}
	return opts.Namespace, nil
}

// clientIdentity is the identity the SDK gives a client that sets none (temporalutil.Dial sets
// none): "pid@host@". Temporal records it with every Update request, so a signed statement's
// Client claim can be compared with what the server saw (starter timeline).
func clientIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "Unknown"
	}
	return fmt.Sprintf("%d@%s@", os.Getpid(), host)
}
