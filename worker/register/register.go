// Package register builds the workers of the authops task queues (routine and emergency), each
// with every workflow and activity.
// The worker binary and the integration tests use it, so both run the same registrations.
package register

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/peer"
	"github.com/authops/authops/workflows"
)

// Deps are what the activities act with.
type Deps struct {
	Config   *config.Config
	Notifier notify.Notifier
	HTTP     *http.Client
	// Runs tells the activities whether a run has closed (a pending secret version it left
	// behind is stale then); New sets it to the worker's client when it is nil.
	Runs activities.RunDescriber
	// Freezes reads the freezes running incidents hold; New sets it to the worker's client when
	// it is nil, and Register to Runs when Runs can list workflows (a client can).
	Freezes freeze.Lister
	// Peers reaches other runs (a child's report to its incident); New sets it to the worker's
	// client when it is nil, and Register to Runs when Runs can (a client can).
	Peers activities.Peers
	// Slack, when set, posts announcements to Slack through the notification workflows; its
	// Client defaults to the worker's client (New), or to Runs when Runs is a client (Register).
	Slack *activities.SlackNotifier
	// PeerKey seals the messages between runs; Register loads it from the config's
	// peer_key_file when nil (LoadPeerKey).
	PeerKey []byte
}

// LoadPeerKey reads (or, the first time, creates) the key in the config's peer_key_file.
func LoadPeerKey(cfg *config.Config) ([]byte, error) {
	key, err := peer.LoadKey(cfg.PeerKeyPath())
	if err != nil {
		return nil, fmt.Errorf("peer key: %w", err)
	}
	return key, nil
}

// Workers are the routine queue's worker and the emergency queue's, with the same
// registrations: the emergency runbook gets pollers, slots and a sticky cache of its own.
type Workers struct {
	Routine, Emergency worker.Worker
}

// Run starts the emergency worker, runs the routine one until interrupt, then stops both.
func (w Workers) Run(interrupt <-chan any) error {
	if err := w.Emergency.Start(); err != nil {
		return fmt.Errorf("emergency worker: %w", err)
	}
	defer w.Emergency.Stop()
	return w.Routine.Run(interrupt)
}

// New returns the workers of both task queues with everything registered; the caller runs them.
func New(c client.Client, d Deps) Workers {
	return Workers{Routine: newWorker(c, contract.TaskQueue, d), Emergency: newWorker(c, contract.EmergencyTaskQueue, d)}
}

// maxWorkflowPollers bounds each queue's workflow task pollers.
const maxWorkflowPollers = 8

func newWorker(c client.Client, queue string, d Deps) worker.Worker {
	w := worker.New(c, queue, worker.Options{
		// On SIGTERM, give an in-flight deploy or validation time to finish rather than cutting a
		// restart off half-way; Temporal retries whatever is still running after that.
		WorkerStopTimeout: 30 * time.Second,
		// Workflow task pollers follow the work, up to a few: two fixed ones hand out tasks one
		// round trip at a time (a decision waits behind them), and a hundred let a burst of
		// starts flood the server with workflow tasks faster than it can take the starts.
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{
			InitialNumberOfPollers: 2, MinimumNumberOfPollers: 1, MaximumNumberOfPollers: maxWorkflowPollers,
		}),
	})
	Register(w, d.withClient(c))
	return w
}

// Register adds the workflows and activities to a registry (a worker or a test environment).
func Register(r worker.Registry, d Deps) {
	RegisterWorkflows(r)
	// Callers that pass the client as Runs only (tests) get it for freezes, peers and Slack too.
	d = d.withClient(d.Runs)
	if d.PeerKey == nil && d.Config != nil {
		key, err := LoadPeerKey(d.Config)
		if err != nil {
			// The activities then refuse to seal or accept messages between runs, with this reason.
			slog.Error("worker: no peer key; runs cannot message each other", "err", err)
		}
		d.PeerKey = key
	}
	for _, a := range d.activityTypes() {
		r.RegisterActivity(a)
	}
}

// withClient fills in the dependencies d lacks that c provides: a Temporal client provides all
// of them. New gives the worker's client, Register the Runs it was given (tests pass only that).
func (d Deps) withClient(c any) Deps {
	if r, ok := c.(activities.RunDescriber); ok && d.Runs == nil {
		d.Runs = r
	}
	if l, ok := c.(freeze.Lister); ok && d.Freezes == nil {
		d.Freezes = l
	}
	if p, ok := c.(activities.Peers); ok && d.Peers == nil {
		d.Peers = p
	}
	if n, ok := c.(activities.NotifyClient); ok && d.Slack != nil && d.Slack.Client == nil {
		s := *d.Slack
		s.Client = n
		d.Slack = &s
	}
	return d
}

// activityTypes are the worker's activity types, each given only what it acts with. Every
// exported method of each is an activity, named in contract/act.
func (d Deps) activityTypes() []any {
	targets := activities.Targets{Config: d.Config, HTTP: d.HTTP}
	return []any{
		&activities.Policies{Config: d.Config},
		&activities.Secrets{Targets: targets, Runs: d.Runs, PeerKey: d.PeerKey},
		&activities.Probes{Targets: targets},
		&activities.Incidents{Targets: targets, Freezes: d.Freezes},
		&activities.Notifications{Config: d.Config, Notifier: d.Notifier, HTTP: d.HTTP, Slack: d.Slack, PeerKey: d.PeerKey},
		&activities.Peer{Key: d.PeerKey, Runs: d.Runs, Peers: d.Peers},
	}
}

// WorkflowRegistry is what RegisterWorkflows needs: a worker, a test environment or a replayer.
type WorkflowRegistry interface {
	RegisterWorkflow(w any)
}

// RegisterWorkflows adds every workflow; replay tests use it to replay with what the worker runs.
func RegisterWorkflows(r WorkflowRegistry) {
	r.RegisterWorkflow(workflows.SecretRotation)
	r.RegisterWorkflow(workflows.EmergencyInvalidation)
	r.RegisterWorkflow(workflows.ScheduledRotation)
	r.RegisterWorkflow(workflows.ClaimStatement)
	r.RegisterWorkflow(workflows.AuthIncident)
	r.RegisterWorkflow(workflows.AlertSlot)
	r.RegisterWorkflow(workflows.SecretStatus)
	r.RegisterWorkflow(workflows.SecretSettle)
	r.RegisterWorkflow(workflows.NotifyChannel)
}
