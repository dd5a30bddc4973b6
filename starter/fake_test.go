package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/statement"
)

// Test fixtures: a runbook config with people and keys, and a fake Temporal client.

const testTarget = `targets:
  demo:
    base_url: http://127.0.0.1:8081
    secret_store: {kind: file, dir: secrets, name: demo-jwt-secret}
    env_sink: {kind: dotenv, path: backend.env}
    deployer:
      kind: exec
      argv: [bin/deploy, --now]
    admin:
      token: {file: admin.token}
    probe:
      username: probe
      password: {env: AUTHOPS_TEST_PROBE_PASSWORD}
    claims:
      issuer: authbackend-demo
    approvers: [alice, bob]
people:
  alice: {keys: [{file: keys/alice.pub}]}
  bob: {keys: [{file: keys/bob.pub}]}
  carol: {keys: [{file: keys/carol.pub}]}
`

// fixture is a config directory: alice's private key is elsewhere (for --key), bob's and
// carol's sit next to their .pub files (the demo fallback).
type fixture struct {
	config   string
	aliceKey string
	bobKey   string
	cfg      *config.Config
}

func testKey(t *testing.T, seed byte) (pub string, priv []byte) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	k := ed25519.NewKeyFromSeed(s)
	sp, err := ssh.NewPublicKey(k.Public())
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(k, "test")
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))), pem.EncodeToMemory(block)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	// No ssh-agent of the developer's.
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	f := fixture{config: filepath.Join(dir, "runbook.yaml"), aliceKey: filepath.Join(t.TempDir(), "id_alice")}
	for i, name := range []string{"alice", "bob", "carol"} {
		pub, priv := testKey(t, byte(i+1))
		writeFile(t, filepath.Join(dir, "keys", name+".pub"), []byte(pub+" "+name+"@test\n"))
		switch name {
		case "alice":
			writeFile(t, f.aliceKey, priv)
		default:
			writeFile(t, filepath.Join(dir, "keys", name), priv)
		}
	}
	f.bobKey = filepath.Join(dir, "keys", "bob")
	writeFile(t, f.config, []byte(testTarget))
	cfg, err := config.Load(f.config)
	require.NoError(t, err)
	f.cfg = cfg
	return f
}

// verify checks a statement the CLI built against the config's people, as the run does.
func (f fixture) verify(t *testing.T, signed *contract.SignedStatement, exp statement.Expect) statement.Verified {
	t.Helper()
	people, err := f.cfg.People()
	require.NoError(t, err)
	exp.Now = time.Now()
	v, err := statement.Verify(signed, people, nil, exp)
	require.NoError(t, err)
	return v
}

// fakeClient fakes the calls the starter makes. The embedded client.Client is nil: a call the
// test did not expect panics.
type fakeClient struct {
	client.Client

	desc    *workflowservice.DescribeWorkflowExecutionResponse
	descErr error
	// updateErr fails UpdateWorkflow; answer and answerErr are the handle's outcome.
	updateErr error
	answer    contract.Event
	answerErr error
	updates   []client.UpdateWorkflowOptions
	signals   []fakeSignal

	// queueDescribes counts DescribeTaskQueue calls: the starter must make none.
	queueDescribes int

	startErr  error
	starts    []client.StartWorkflowOptions
	startArgs []any

	timeline []contract.Event
	status   contract.Status
	history  []*historypb.HistoryEvent
	histRead int
}

type fakeSignal struct {
	ID, RunID, Name string
	Arg             any
}

func running(firstRunID string) *workflowservice.DescribeWorkflowExecutionResponse {
	return &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Status:     enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			FirstRunId: firstRunID,
		},
	}
}

func (f *fakeClient) DescribeWorkflow(_ context.Context, _, _ string) (*client.WorkflowExecutionDescription, error) {
	if f.descErr != nil {
		return nil, f.descErr
	}
	return &client.WorkflowExecutionDescription{RawResponse: f.desc}, nil
}

func (f *fakeClient) DescribeTaskQueue(_ context.Context, _ string, _ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	f.queueDescribes++
	return &workflowservice.DescribeTaskQueueResponse{}, nil
}

func (f *fakeClient) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.updates = append(f.updates, o)
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	return fakeHandle{f}, nil
}

func (f *fakeClient) SignalWorkflow(_ context.Context, id, runID, name string, arg any) error {
	f.signals = append(f.signals, fakeSignal{id, runID, name, arg})
	return nil
}

func (f *fakeClient) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	f.startArgs = append(f.startArgs, args...)
	if f.startErr != nil {
		return nil, f.startErr
	}
	return fakeRun{id: o.ID}, nil
}

func (f *fakeClient) QueryWorkflow(_ context.Context, _, _, name string, _ ...any) (converter.EncodedValue, error) {
	if name == contract.QueryTimeline {
		return jsonValue{f.timeline}, nil
	}
	return jsonValue{f.status}, nil
}

func (f *fakeClient) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	f.histRead++
	return &historyIter{events: f.history}
}

func (f *fakeClient) Close() {}

type fakeHandle struct{ f *fakeClient }

func (h fakeHandle) WorkflowID() string { return "" }
func (h fakeHandle) RunID() string      { return "" }
func (h fakeHandle) UpdateID() string   { return "u-1" }
func (h fakeHandle) Get(_ context.Context, ptr any) error {
	if h.f.answerErr != nil {
		return h.f.answerErr
	}
	*ptr.(*contract.Event) = h.f.answer
	return nil
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-1" }

type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return true }
func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

type historyIter struct {
	events []*historypb.HistoryEvent
	i      int
}

func (h *historyIter) HasNext() bool { return h.i < len(h.events) }
func (h *historyIter) Next() (*historypb.HistoryEvent, error) {
	h.i++
	return h.events[h.i-1], nil
}

// harness runs starter commands against a fake client and counts dials.
type harness struct {
	f     fixture
	fc    *fakeClient
	dials int
}

func newHarness(t *testing.T) *harness {
	return &harness{f: newFixture(t), fc: &fakeClient{}}
}

func (h *harness) run(args ...string) (string, error) {
	a := &app{
		dial: func() (client.Client, error) {
			h.dials++
			return h.fc, nil
		},
		namespace: func() (string, error) { return "default", nil },
		identity:  func() string { return "test-client" },
	}
	root := newRootFor(a)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--config", h.f.config}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}
