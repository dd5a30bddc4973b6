// Package runs is the one client of authops runbook runs. The CLI's commands, the Slack gateway
// and the Alertmanager webhook all start runs, send decisions and read state through it: typed
// requests in, typed answers out, every start and decision signed through a Signer. It refuses
// what it can before anything is sent, so bad input changes nothing, and it links no adapter:
// it never touches a target or a target's secret.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/freeze"
)

// Temporal is what the runs ask of a Temporal client; client.Client is one.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
	freeze.Lister
	Close()
}

// Options configure a Client.
type Options struct {
	// Dial returns the Temporal client. It is called once, on first use, so that a request
	// refused locally dials nothing.
	Dial func() (Temporal, error)
	// Config returns the config the requests are judged by, with at least the named targets
	// read in full. The caller loads it once per process (the gateway again on SIGHUP); the
	// client never reads the file itself.
	Config func(targets ...string) (*config.Config, error)
	// Namespace is the namespace the Temporal client dials, which signed statements name.
	Namespace func() (string, error)
	// Identity is the client identity Temporal records with each request; statements claim it.
	Identity string
	// Log gets what the sender should know but is no answer (default: discarded).
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Client carries out requests on runs. It is safe for concurrent use.
type Client struct {
	o Options

	mu sync.Mutex
	tc Temporal
}

// New returns a client; Close closes the Temporal client it dialed, if any.
func New(o Options) *Client {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Namespace == nil {
		o.Namespace = func() (string, error) { return client.DefaultNamespace, nil }
	}
	return &Client{o: o}
}

// Close closes the Temporal client, if it was dialed.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tc != nil {
		c.tc.Close()
		c.tc = nil
	}
}

// temporal dials on first use. A failed dial is not remembered, so a later request tries again.
func (c *Client) temporal() (Temporal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tc != nil {
		return c.tc, nil
	}
	if c.o.Dial == nil {
		return nil, errors.New("runs: no Temporal client configured")
	}
	tc, err := c.o.Dial()
	if err != nil {
		return nil, err
	}
	c.tc = tc
	return tc, nil
}

func (c *Client) config(targets ...string) (*config.Config, error) {
	if c.o.Config == nil {
		return nil, errors.New("runs: no config loaded")
	}
	return c.o.Config(targets...)
}

// checkID refuses a workflow id with control or format characters before it is sent, or
// echoed in an error to a terminal or Slack.
func checkID(id string) error {
	if id == "" {
		return errors.New("a workflow id is required")
	}
	return contract.CheckText("workflow id", id)
}

// queryClient is what reading a run's state needs of a Temporal client.
type queryClient interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

func query(ctx context.Context, c queryClient, id, name string, out any) error {
	v, err := c.QueryWorkflow(ctx, id, "", name)
	if err != nil {
		return fmt.Errorf("query %s of %s: %w", name, id, err)
	}
	return v.Get(out)
}

// queryRun queries a run, saying plainly when there is no run with the id.
func queryRun(ctx context.Context, c queryClient, id, name string, out any) error {
	err := query(ctx, c, id, name, out)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no run with id %s; nothing was sent", contract.CleanText(id))
	}
	return err
}

// Canonical is a decision's Args: the JSON of its request. The types marshalled here cannot fail.
func Canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return string(b)
}
