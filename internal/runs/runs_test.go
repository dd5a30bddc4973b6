package runs

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/statement"
)

const testConfig = `targets:
  demo:
    base_url: http://127.0.0.1:8081
    approvers: [alice, bob]
people:
  alice: {slack_id: UALICE, keys: [{file: keys/alice.pub}]}
  bob: {slack_id: UBOB, keys: [{file: keys/bob.pub}]}
gateway:
  keys: [{file: keys/gateway.pub}]
`

// fixture is a config whose people's private keys sit next to their .pub files (the demo
// keys), a gateway key, and a client whose Temporal is fake.
type fixture struct {
	cfg     *config.Config
	gateway ssh.Signer
	fake    *fakeTemporal
	dials   int
	c       *Client
}

func key(t *testing.T, dir, name string, seed byte) ssh.Signer {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	k := ed25519.NewKeyFromSeed(s)
	signer, err := ssh.NewSignerFromKey(k)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(k, name)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".pub"), ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600))
	return signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "keys"), 0o700))
	key(t, filepath.Join(dir, "keys"), "alice", 1)
	key(t, filepath.Join(dir, "keys"), "bob", 2)
	f := &fixture{gateway: key(t, filepath.Join(dir, "keys"), "gateway", 3), fake: &fakeTemporal{firstRunID: "first-1"}}
	var err error
	f.cfg, err = config.ParseLight([]byte(testConfig), dir, "demo")
	require.NoError(t, err)
	f.c = New(Options{
		Dial: func() (Temporal, error) {
			f.dials++
			return f.fake, nil
		},
		Config:    func(...string) (*config.Config, error) { return f.cfg, nil },
		Namespace: func() (string, error) { return "default", nil },
		Identity:  "test-client",
	})
	return f
}

// verify checks a statement as the run does.
func (f *fixture) verify(t *testing.T, signed *contract.SignedStatement, exp statement.Expect) statement.Verified {
	t.Helper()
	people, err := f.cfg.People()
	require.NoError(t, err)
	gw, err := f.cfg.GatewayKeys()
	require.NoError(t, err)
	exp.Now = time.Now()
	v, err := statement.Verify(signed, people, gw, exp)
	require.NoError(t, err)
	return v
}

// fakeTemporal records starts and Updates; the embedded Temporal is nil, so a call the test
// did not expect panics.
type fakeTemporal struct {
	Temporal
	firstRunID string
	closed     bool
	starts     []client.StartWorkflowOptions
	inputs     []any
	updates    []client.UpdateWorkflowOptions
	answer     contract.Event
	incident   contract.IncidentStatus
}

func (f *fakeTemporal) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	status := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if f.closed {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &client.WorkflowExecutionDescription{RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: status, FirstRunId: f.firstRunID}}}, nil
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.updates = append(f.updates, o)
	return handle{f}, nil
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	f.inputs = append(f.inputs, args...)
	return run{id: o.ID}, nil
}

func (f *fakeTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return value{f.incident}, nil
}

func (f *fakeTemporal) Close() {}

type handle struct{ f *fakeTemporal }

func (handle) WorkflowID() string { return "" }
func (handle) RunID() string      { return "" }
func (handle) UpdateID() string   { return "" }
func (h handle) Get(_ context.Context, ptr any) error {
	*ptr.(*contract.Event) = h.f.answer
	return nil
}

type run struct {
	client.WorkflowRun
	id string
}

func (r run) GetID() string    { return r.id }
func (r run) GetRunID() string { return "run-1" }

type value struct{ v any }

func (value) HasValue() bool { return true }
func (v value) Get(ptr any) error {
	b, err := json.Marshal(v.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// TestDecideSetsUpdateIDAndFirstRun: a decision goes as one Update under the sender's Update id,
// to the chain of the run's first run, with a statement signed for that first run.
func TestDecideSetsUpdateIDAndFirstRun(t *testing.T) {
	f := newFixture(t)
	f.fake.answer = contract.Event{At: time.Now(), Actor: "bob", Action: contract.DecisionApprove, Outcome: "accepted"}
	ans, err := f.c.Decide(context.Background(), PersonKeys{}, DecisionRequest{
		Run:  Run{WorkflowID: "rotation-demo", UpdateID: "uid-1"},
		Name: contract.DecisionApprove, Actor: "bob", Comment: "looks right"})
	require.NoError(t, err)
	require.Equal(t, DecisionAnswer{WorkflowID: "rotation-demo", Name: contract.DecisionApprove, Event: f.fake.answer}, ans)
	require.Len(t, f.fake.updates, 1)
	u := f.fake.updates[0]
	require.Equal(t, "uid-1", u.UpdateID)
	require.Equal(t, "first-1", u.FirstExecutionRunID)
	require.Equal(t, contract.DecisionApprove, u.UpdateName)
	d := u.Args[0].(contract.Decision)
	require.Equal(t, "first-1", d.Statement.Statement.FirstRunID)
	v := f.verify(t, d.Statement, statement.Expect{Namespace: "default", WorkflowID: "rotation-demo", FirstRunID: "first-1",
		Action: contract.DecisionApprove, Comment: "looks right"})
	require.Equal(t, "bob", v.Person)
	require.Equal(t, "test-client", v.Client)

	// Without an Update id the SDK picks one, as for the CLI.
	_, err = f.c.Decide(context.Background(), PersonKeys{}, DecisionRequest{Run: Run{WorkflowID: "rotation-demo"},
		Name: contract.DecisionReject, Actor: "bob"})
	require.NoError(t, err)
	require.Empty(t, f.fake.updates[1].UpdateID)
}

// TestDecideOutdated: a decision for a chain the id no longer names (a Slack button of an earlier
// run) sends nothing.
func TestDecideOutdated(t *testing.T) {
	f := newFixture(t)
	_, err := f.c.Decide(context.Background(), PersonKeys{}, DecisionRequest{
		Run: Run{WorkflowID: "rotation-demo", FirstRunID: "old-run"}, Name: contract.DecisionApprove, Actor: "bob"})
	var outdated *ErrOutdated
	require.ErrorAs(t, err, &outdated)
	require.Equal(t, ErrOutdated{ID: "rotation-demo", Want: "old-run", Got: "first-1"}, *outdated)
	require.Empty(t, f.fake.updates)
}

// TestStartSignsWithNoFirstRun: a start's statement names no first run (there is none yet),
// and the run gets the requester the signer signed for.
func TestStartSignsWithNoFirstRun(t *testing.T) {
	f := newFixture(t)
	run, err := f.c.StartRotation(context.Background(), SlackUser{Gateway: f.gateway, Person: "alice", User: "UALICE"},
		RotationRequest{RotationInput: contract.RotationInput{Target: "demo", RequestedBy: "alice", Reason: "hygiene", Mode: contract.ModeManual}})
	require.NoError(t, err)
	require.Equal(t, Started{WorkflowID: "rotation-demo", RunID: "run-1"}, run)
	require.Len(t, f.fake.starts, 1)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, f.fake.starts[0].WorkflowIDConflictPolicy)
	in := f.fake.inputs[0].(contract.RotationInput)
	require.Empty(t, in.Statement.Statement.FirstRunID)
	v := f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: "rotation-demo",
		Action: contract.ActionStartRotation, Comment: "hygiene", Args: in.StartArgs()})
	require.Equal(t, statement.Verified{Person: "alice", Via: statement.ViaSlack, SlackUser: "UALICE", Client: "test-client"}, v)
}

// failingSigner finds no key.
type failingSigner struct{ calls int }

func (s *failingSigner) Key(*config.Config, string, string) (*Key, error) {
	s.calls++
	return nil, errors.New("no key for you")
}

// TestSignerErrorChangesNothing: when no key is found, nothing is dialed, started or decided.
func TestSignerErrorChangesNothing(t *testing.T) {
	ctx := context.Background()
	for name, call := range map[string]func(*Client, Signer) error{
		"rotate": func(c *Client, s Signer) error {
			_, err := c.StartRotation(ctx, s, RotationRequest{RotationInput: contract.RotationInput{Target: "demo", RequestedBy: "alice",
				Reason: "r", Mode: contract.ModeManual}})
			return err
		},
		"invalidate": func(c *Client, s Signer) error {
			_, err := c.StartInvalidation(ctx, s, InvalidationRequest{InvalidationInput: contract.InvalidationInput{Target: "demo",
				RequestedBy: "alice", Reason: "r", Trigger: contract.TriggerTokenAbuse, RestrictStatus: DefaultRestrictStatus}})
			return err
		},
		"declare": func(c *Client, s Signer) error {
			_, err := c.Declare(ctx, s, DeclareRequest{IncidentInput: contract.IncidentInput{Trigger: "other", Severity: "low",
				Summary: "s", Reporter: "alice", Source: "cli"}})
			return err
		},
		"approve": func(c *Client, s Signer) error {
			_, err := c.Decide(ctx, s, DecisionRequest{Run: Run{WorkflowID: "rotation-demo"}, Name: contract.DecisionApprove, Actor: "bob"})
			return err
		},
		"note": func(c *Client, s Signer) error {
			_, err := c.Note(ctx, s, NoteRequest{Run: Run{WorkflowID: "incident-x"}, Actor: "bob", Text: "hello"})
			return err
		},
		"contain": func(c *Client, s Signer) error {
			_, err := c.Contain(ctx, s, ContainRequest{Run: Run{WorkflowID: "incident-x"}, Actor: "bob",
				ContainRequest: contract.ContainRequest{Kind: contract.ContainLogoutAll}})
			return err
		},
		"alert": func(c *Client, s Signer) error {
			_, err := c.Alert(ctx, s, AlertRequest{IncidentID: "incident-am-1", Actor: contract.RequesterAlertPrefix + "alertmanager",
				Trigger: "other", Severity: "low", Summary: "s"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			s := &failingSigner{}
			require.ErrorContains(t, call(f.c, s), "no key for you")
			require.Equal(t, 1, s.calls)
			require.Zero(t, f.dials, "nothing is dialed")
			require.Empty(t, f.fake.starts)
			require.Empty(t, f.fake.updates)
		})
	}
}

// TestBadInputChangesNothing: input that cannot be right is refused before a key is looked for.
func TestBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := &failingSigner{}
	_, err := f.c.Decide(ctx, s, DecisionRequest{Run: Run{WorkflowID: "rotation-demo"}, Name: contract.DecisionApprove,
		Actor: "bob", Comment: "ok\x1b[2K"})
	require.ErrorContains(t, err, "--comment")
	_, err = f.c.StartRotation(ctx, s, RotationRequest{RotationInput: contract.RotationInput{Target: "nope", RequestedBy: "alice"}})
	require.ErrorContains(t, err, `unknown target "nope"`)
	_, err = f.c.Contain(ctx, s, ContainRequest{Run: Run{WorkflowID: "incident-x"}, Actor: "bob",
		ContainRequest: contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"0.0.0.0/0"}}})
	require.ErrorContains(t, err, "contain refused, nothing was sent")
	_, err = f.c.Decide(ctx, s, DecisionRequest{Run: Run{WorkflowID: "incident-x"}, Name: contract.DecisionApprove, Actor: "bob"})
	require.ErrorContains(t, err, "--action is required")
	_, err = f.c.Decide(ctx, s, DecisionRequest{Run: Run{WorkflowID: "rotation-demo"}, Name: "owner", Actor: "bob"})
	require.ErrorContains(t, err, `"owner" is not a decision`)
	_, err = f.c.Decide(ctx, s, DecisionRequest{Run: Run{WorkflowID: "rotation-demo\u202e"}, Name: contract.DecisionApprove, Actor: "bob"})
	require.ErrorContains(t, err, "workflow id")
	_, err = f.c.Status(ctx, "rotation-demo\x1b[2K")
	require.ErrorContains(t, err, "workflow id")
	require.Zero(t, s.calls)
	require.Zero(t, f.dials)
}

// TestSignersSpeakForTheirActorOnly: the gateway's signers refuse any other actor.
func TestSignersSpeakForTheirActorOnly(t *testing.T) {
	f := newFixture(t)
	_, err := SlackUser{Gateway: f.gateway, Person: "alice", User: "UALICE"}.Key(f.cfg, "--as", "bob")
	require.ErrorContains(t, err, "Slack user UALICE is not bob")
	_, err = SlackUser{Gateway: f.gateway, Person: "bob", User: "UALICE"}.Key(f.cfg, "--as", "bob")
	require.ErrorContains(t, err, "Slack user UALICE is not bob")
	_, err = SlackUser{Person: "alice", User: "UALICE"}.Key(f.cfg, "--as", "alice")
	require.ErrorIs(t, err, ErrNoGatewayKey)
	_, err = Alert{Gateway: f.gateway, Actor: "alert:alertmanager"}.Key(f.cfg, "alert", "alice")
	require.ErrorContains(t, err, "signs as alert:alertmanager only")
	k, err := PersonKeys{}.Key(f.cfg, "--as", "bob")
	require.NoError(t, err)
	require.Equal(t, "bob", k.Actor)
	require.NoError(t, k.Close())
	_, err = PersonKeys{}.Key(f.cfg, "--as", "Bob")
	require.ErrorContains(t, err, "did you mean bob?")
}

// TestRunsLinksNoAdapter: the client of runs cannot touch a secret, an env file, a deployment,
// a target or Slack, because it does not link the code that does.
func TestRunsLinksNoAdapter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, d := range strings.Fields(string(out)) {
		for _, pkg := range []string{"internal/secretstore", "internal/envfile", "internal/deploy", "internal/probe",
			"internal/controls", "internal/notify", "activities"} {
			require.False(t, strings.HasPrefix(d, "github.com/authops/authops/"+pkg), "runs links %s", d)
		}
		require.NotContains(t, d, "slack-go", "runs links %s", d)
	}
}
