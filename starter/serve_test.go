package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/runs"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/starter/gateway"
)

// gatewayFixture is a config whose people have Slack ids and whose gateway.keys lists the key
// the gateway signs with.
type gatewayFixture struct {
	config  string
	keyFile string
	cfg     *config.Config
	fc      *gatewayFakeClient
	app     *app
	key     ssh.Signer
	runs    *gatewayRuns
	now     time.Time // the gateway's clock
}

// serve makes the gateway's requests go to tc.
func (f *gatewayFixture) serve(tc runs.Temporal) {
	f.runs = newGatewayRuns(f.app, tc, f.cfg, f.key, slog.New(slog.DiscardHandler))
	f.runs.now = func() time.Time { return f.now }
}

// gatewayFakeClient is the starter's fake client as the gateway uses it.
type gatewayFakeClient struct {
	*fakeClient
	// incident answers the incident query.
	incident contract.IncidentStatus
}

func (f *gatewayFakeClient) QueryWorkflow(ctx context.Context, id, runID, name string, args ...any) (converter.EncodedValue, error) {
	if name == contract.QueryIncident {
		return jsonValue{f.incident}, nil
	}
	return f.fakeClient.QueryWorkflow(ctx, id, runID, name, args...)
}

func newGatewayFixture(t *testing.T) *gatewayFixture {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	var people strings.Builder
	for i, name := range []string{"alice", "bob", "carol"} {
		pub, _ := testKey(t, byte(i+1))
		writeFile(t, filepath.Join(dir, "keys", name+".pub"), []byte(pub+"\n"))
		slackID := "U" + strings.ToUpper(name)
		if name == "carol" {
			slackID = "" // carol has no Slack id: Slack cannot speak for her
		}
		people.WriteString("  " + name + ": {")
		if slackID != "" {
			people.WriteString("slack_id: " + slackID + ", ")
		}
		people.WriteString("keys: [{file: keys/" + name + ".pub}]}\n")
	}
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 42
	k := ed25519.NewKeyFromSeed(seed)
	sp, err := ssh.NewPublicKey(k.Public())
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(k, "gateway")
	require.NoError(t, err)
	f := &gatewayFixture{config: filepath.Join(dir, "runbook.yaml"), keyFile: filepath.Join(dir, "keys", "gateway")}
	writeFile(t, f.keyFile, pem.EncodeToMemory(block))
	writeFile(t, f.keyFile+".pub", ssh.MarshalAuthorizedKey(sp))
	cfgText := strings.Replace(testTarget, "people:\n  alice: {keys: [{file: keys/alice.pub}]}\n  bob: {keys: [{file: keys/bob.pub}]}\n  carol: {keys: [{file: keys/carol.pub}]}\n",
		"people:\n"+people.String()+"gateway:\n  keys: [{file: keys/gateway.pub}]\n", 1)
	require.Contains(t, cfgText, "gateway:")
	writeFile(t, f.config, []byte(cfgText))
	f.cfg, err = config.Load(f.config)
	require.NoError(t, err)
	f.key, err = loadGatewayKey(f.cfg, f.keyFile)
	require.NoError(t, err)
	f.fc = &gatewayFakeClient{fakeClient: &fakeClient{desc: running("first-1")}}
	f.app = &app{
		configPath: f.config,
		namespace:  func() (string, error) { return "default", nil },
		identity:   func() string { return "test-client" },
	}
	// The gateway's clock is the real one, held still: the starter checks a window against the
	// real time, so a fixed date would put it in the past one day.
	f.now = time.Now().UTC().Truncate(time.Second)
	f.serve(f.fc)
	return f
}

// verify checks a statement as the run does, with the gateway's keys.
func (f *gatewayFixture) verify(t *testing.T, signed *contract.SignedStatement, exp statement.Expect) statement.Verified {
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

var (
	slackAlice = gateway.Actor{Person: "alice", SlackUser: "UALICE"}
	slackBob   = gateway.Actor{Person: "bob", SlackUser: "UBOB"}
)

// TestGatewayRotateSignedViaSlack: `/runbook rotate demo` starts rotation-demo with a start the
// run accepts as alice's, via Slack, with her Slack id.
func TestGatewayRotateSignedViaSlack(t *testing.T) {
	f := newGatewayFixture(t)
	out, err := f.runs.Run(context.Background(), slackAlice, gateway.Command{Verb: "rotate", Target: "demo", In: time.Hour, Text: "--as=bob hygiene"})
	require.NoError(t, err)
	require.Equal(t, "rotation-demo\n", out)
	require.Len(t, f.fc.starts, 1)
	require.Equal(t, "rotation-demo", f.fc.starts[0].ID)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, f.fc.starts[0].WorkflowIDConflictPolicy)
	in := f.fc.startArgs[0].(contract.RotationInput)
	require.Equal(t, "alice", in.RequestedBy)
	require.Equal(t, "--as=bob hygiene", in.Reason, "typed text stays text")
	require.Equal(t, f.now.Add(time.Hour), in.WindowStart)
	v := f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: "rotation-demo", Action: contract.ActionStartRotation,
		Comment: in.Reason, Args: in.StartArgs()})
	require.Equal(t, statement.Verified{Person: "alice", Via: statement.ViaSlack, SlackUser: "UALICE", Client: gatewayIdentity()}, v)
}

// TestGatewaySignsOnlyForTheSlackUsersPerson: the signer refuses any other person, and a person
// without a Slack id.
func TestGatewaySignsOnlyForTheSlackUsersPerson(t *testing.T) {
	f := newGatewayFixture(t)
	_, err := f.runs.Run(context.Background(), gateway.Actor{Person: "carol", SlackUser: "UALICE"}, gateway.Command{Verb: "rotate", Target: "demo"})
	require.ErrorContains(t, err, "not carol")
	require.Empty(t, f.fc.starts)
	_, err = f.runs.Run(context.Background(), slackAlice, gateway.Command{Verb: "rotate", Target: "nope"})
	require.Error(t, err)
	require.Empty(t, f.fc.starts)
	f.runs.key = nil
	_, err = f.runs.Run(context.Background(), slackAlice, gateway.Command{Verb: "rotate", Target: "demo"})
	require.ErrorIs(t, err, runs.ErrNoGatewayKey)
	require.Empty(t, f.fc.starts)
}

// TestGatewayDecideUpdateIDAndRun: a click's decision goes as one Update under the click's id,
// signed for the run's first run; Args name the incident action.
func TestGatewayDecideUpdateIDAndRun(t *testing.T) {
	f := newGatewayFixture(t)
	f.fc.answer = contract.Event{At: time.Now(), Actor: "bob", Action: "approve", Outcome: "accepted"}
	req := contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}}
	f.fc.incident = contract.IncidentStatus{ID: "incident-x", Pending: []contract.PendingAction{{ID: "a2", Request: req, State: "pending"}}}
	d := gateway.Decision{Name: contract.DecisionApprove, UpdateID: "uid-1",
		Button: slackui.ButtonValue{WorkflowID: "incident-x", FirstRunID: "first-1", Action: "a2"}}
	out, err := f.runs.Decide(context.Background(), slackBob, d)
	require.NoError(t, err)
	require.Contains(t, out, "approve accepted by bob")
	require.Len(t, f.fc.updates, 1)
	u := f.fc.updates[0]
	require.Equal(t, "uid-1", u.UpdateID)
	require.Equal(t, "first-1", u.FirstExecutionRunID)
	dec := u.Args[0].(contract.Decision)
	// The gateway signs over the action's content as the run shows it.
	require.Equal(t, runs.Canonical(contract.ActionRef{Action: "a2", Digest: req.Digest()}), dec.Args)
	v := f.verify(t, dec.Statement, statement.Expect{Namespace: "default", WorkflowID: "incident-x", FirstRunID: "first-1",
		Action: "approve", Comment: dec.Comment, Args: dec.Args})
	require.Equal(t, "UBOB", v.SlackUser)
}

// TestGatewayOutdatedOrFinishedClick: a click on a message of an older run, or on a finished
// run, is answered plainly and sends nothing.
func TestGatewayOutdatedOrFinishedClick(t *testing.T) {
	f := newGatewayFixture(t)
	d := gateway.Decision{Name: contract.DecisionApprove, UpdateID: "uid-1", Button: slackui.ButtonValue{WorkflowID: "rotation-demo", FirstRunID: "old-run"}}
	out, err := f.runs.Decide(context.Background(), slackBob, d)
	require.NoError(t, err)
	require.Contains(t, out, "outdated")
	f.fc.desc = &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, FirstRunId: "old-run"}}
	_, err = f.runs.Decide(context.Background(), slackBob, d)
	require.ErrorContains(t, err, "already finished")
	require.Empty(t, f.fc.updates)
}

// TestGatewayDeniedDecisionRelayed: the run's refusal comes back as text to relay.
func TestGatewayDeniedDecisionRelayed(t *testing.T) {
	f := newGatewayFixture(t)
	f.fc.answerErr = deniedErr(contract.Event{At: time.Now(), Actor: "alice", Action: "approve", Outcome: "denied",
		Detail: "alice requested this run and cannot approve it"})
	out, err := f.runs.Decide(context.Background(), slackAlice, gateway.Decision{Name: contract.DecisionApprove, UpdateID: "u",
		Button: slackui.ButtonValue{WorkflowID: "rotation-demo", FirstRunID: "first-1"}})
	require.Error(t, err)
	require.Contains(t, out, "alice requested this run and cannot approve it")
}

// TestGatewayIncidentCommands: incident subcommands become the CLI's, with text after "--".
func TestGatewayIncidentCommands(t *testing.T) {
	f := newGatewayFixture(t)
	f.fc.answer = contract.Event{At: time.Now(), Actor: "bob", Outcome: "accepted"}
	for _, c := range []gateway.Command{
		{Verb: "note", ID: "incident-x", Text: "--status is not a flag here"},
		{Verb: "contain", ID: "incident-x", Kind: contract.ContainDenyCIDR, Arg: "10.0.0.0/8", TTL: time.Hour},
		{Verb: "owner", ID: "incident-x"},
		{Verb: "resolve", ID: "incident-x", Text: "contained", Keep: []string{"deny-cidr"}},
	} {
		c.UpdateID = "uid-" + c.Verb
		_, err := f.runs.Run(context.Background(), slackBob, c)
		require.NoError(t, err, c.Verb)
	}
	require.Len(t, f.fc.updates, 4)
	note := f.fc.updates[0].Args[0].(contract.Decision)
	require.Equal(t, "--status is not a flag here", note.Comment)
	require.Empty(t, note.Args)
	require.Equal(t, "uid-note", f.fc.updates[0].UpdateID)
	contain := f.fc.updates[1].Args[0].(contract.Decision)
	require.Contains(t, contain.Args, `"cidrs":["10.0.0.0/8"]`)
	require.Equal(t, contract.DecisionResolve, f.fc.updates[3].UpdateName)
}

// TestGatewayKeyMustBeListed: a gateway key the config does not list is refused at startup.
func TestGatewayKeyMustBeListed(t *testing.T) {
	f := newGatewayFixture(t)
	_, priv := testKey(t, 9)
	other := filepath.Join(t.TempDir(), "other")
	writeFile(t, other, priv)
	_, err := loadGatewayKey(f.cfg, other)
	require.ErrorContains(t, err, "not in the config's gateway.keys")
	k, err := loadGatewayKey(f.cfg, "")
	require.NoError(t, err)
	require.Nil(t, k)
}

// TestGatewayStartup: one startup line says whether Slack is on and over which transports; an
// app token that is not an app-level token stops serve before it listens.
func TestGatewayStartup(t *testing.T) {
	f := newGatewayFixture(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // lazy: nothing is dialed
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"off", nil, "Slack is off: neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP) is set"},
		{"http", map[string]string{envSigningSecret: "s"}, "Slack is on: HTTP (POST /slack/commands, /slack/interactions); Socket Mode is off"},
		{"socket", map[string]string{envAppToken: "xapp-1-A-1-x"}, "Slack is on: Socket Mode (SLACK_APP_TOKEN); the HTTP Slack routes are off"},
		{"both", map[string]string{envAppToken: "xapp-1-A-1-x", envSigningSecret: "s"}, "Slack is on: Socket Mode (SLACK_APP_TOKEN) and HTTP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			env := map[string]string{envGatewayKey: f.keyFile}
			maps.Copy(env, tc.env)
			srv, gw, err := f.app.newGateway(func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(&logs, nil)))
			require.NoError(t, err)
			defer gw.Close()
			defer srv.Close()
			require.Contains(t, logs.String(), tc.want)
			require.Equal(t, 1, strings.Count(logs.String(), "Slack is on:")+strings.Count(logs.String(), "Slack is off:"), "one line says it")
		})
	}
	env := map[string]string{envGatewayKey: f.keyFile, envAppToken: "xoxb-a-bot-token"}
	_, _, err := f.app.newGateway(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "SLACK_APP_TOKEN must be an app-level token (xapp-…)")
}
