package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// prober calls /auth/me with an old token every few milliseconds, from outside the system, and
// records when the token was first refused.
type prober struct {
	mu          sync.Mutex
	firstReject time.Time
	okBefore    int
	stop        chan struct{}
	done        chan struct{}
	url, bearer string
}

func startProber(url, bearer string) *prober {
	p := &prober{url: url, bearer: bearer, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *prober) loop() {
	defer close(p.done)
	c := &http.Client{Timeout: time.Second}
	for i := 0; i < 200000; i++ { // bounded: at most ~10 minutes at 3 ms
		select {
		case <-p.stop:
			return
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, p.url+"/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+p.bearer)
		resp, err := c.Do(req)
		now := time.Now()
		if err == nil {
			_ = resp.Body.Close()
			p.mu.Lock()
			switch {
			case resp.StatusCode == http.StatusOK:
				p.okBefore++
			case resp.StatusCode == http.StatusUnauthorized && p.firstReject.IsZero():
				p.firstReject = now
			}
			p.mu.Unlock()
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func (p *prober) result() (time.Time, int) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstReject, p.okBefore
}

// TestEmergencyInvalidationEndToEnd measures the exposure window with an outside prober and
// checks every control, the lift and the absence of secrets in history.
func TestEmergencyInvalidationEndToEnd(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)
	admin := newUser(t, env, demoenv.UserProbeAdmin)

	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "tokens replayed from a leaked log",
		"--requested-by", "alice", "--restrict", "/admin", "--restrict-ttl", "10m", "--incident", "INC-7")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	require.Equal(t, contract.InvalidationID("demo"), id)
	waitPhase(t, env, id, "waiting for go-ahead")

	p := startProber(env.BackendURL, before.Access)
	time.Sleep(50 * time.Millisecond)
	// The requester cannot give the go-ahead, even signed.
	out, err = env.Starter(t, "approve", id, "--as", "alice")
	require.Error(t, err, out)
	goAhead := time.Now()
	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "go")
	require.NoError(t, err, out)

	waitPhase(t, env, id, "routes restricted")
	firstReject, okBefore := p.result()
	require.Positive(t, okBefore, "the old token worked before the go-ahead")
	require.False(t, firstReject.IsZero(), "the old token was never refused")
	t.Logf("exposure window (go-ahead signal → old token first refused, outside prober): %s", firstReject.Sub(goAhead))

	// Restricted while restricted; everything else answers as expected.
	adminTok := admin.login(t).Access
	require.Equal(t, http.StatusServiceUnavailable, getStatus(t, env.BackendURL+"/admin/users", adminTok))
	out, err = env.Starter(t, "lift-restrictions", id, "--as", "mallory")
	require.Error(t, err, out)
	require.Contains(t, out, "mallory", "an unknown person is refused before anything is sent")
	out, err = env.Starter(t, "lift-restrictions", id, "--as", "bob", "--comment", "abuse stopped")
	require.NoError(t, err, out)

	var res contract.InvalidationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.Equal(t, contract.OutcomeCompleted, res.RotationOutcome)
	require.Equal(t, "bob", res.ApprovedBy)
	require.False(t, res.OldTokenRejectedAt.IsZero())
	for _, v := range res.Validations {
		require.True(t, v.OK, "%s: %+v", v.Stage, v.Results)
	}
	requireTimeline(t, res.Timeline, "alice", "approve", "denied")
	requireTimeline(t, res.Timeline, "bob", contract.DecisionLiftRestrictions, "accepted")

	// The lift is real, and the old session is dead every way in; a fresh login works.
	require.Equal(t, http.StatusOK, getStatus(t, env.BackendURL+"/admin/users", admin.login(t).Access))
	require.Equal(t, 401, u.me(t, before.Access))
	require.Equal(t, 401, u.refresh(t, before.Refresh))
	require.Equal(t, 401, u.meCookie(t, before.Cookie))
	require.Equal(t, 200, u.me(t, u.login(t).Access))
	newSecret := env.Secret(t)
	require.NotEqual(t, oldSecret, newSecret)
	// The emergency run and its child rotation ran on the emergency queue.
	for _, wid := range []string{id, contract.RotationID("demo")} {
		desc, err := env.Client.DescribeWorkflow(ctx, wid, "")
		require.NoError(t, err)
		require.Equal(t, contract.EmergencyTaskQueue, desc.RawResponse.GetWorkflowExecutionInfo().GetTaskQueue(), wid)
	}

	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", newSecret)
	scan.Value("old access token", before.Access)
	scan.Value("old refresh token", before.Refresh)
	scan.Value("old cookie", before.Cookie)
	scan.Value("admin access token", adminTok)
	for _, wid := range []string{id, contract.RotationID("demo")} {
		hist := testenv.Searchable(t, env.History(t, wid))
		require.Contains(t, hist, "demo", "decoded history is searchable")
		scan.History(wid)
	}
	scan.Check(t)
	env.CheckReplay(t, id, "", "invalidation-completed")
	env.CheckReplay(t, contract.RotationID("demo"), "", "rotation-emergency-child")
}

// TestEmergencyPreemptsPendingRotation: an emergency run cancels a pending rotation of the same
// target, which records why, and then proceeds (here by break glass).
func TestEmergencyPreemptsPendingRotation(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "bob")
	require.NoError(t, err, out)
	rotID := strings.TrimSpace(out)
	waitPhase(t, env, rotID, "waiting for approval")
	desc, err := env.Client.DescribeWorkflow(ctx, rotID, "")
	require.NoError(t, err)
	pendingRun := desc.RawResponse.WorkflowExecutionInfo.Execution.RunId

	out, err = env.Starter(t, "invalidate", "--target", "demo", "--reason", "signing key in a public gist",
		"--trigger", "secret-compromise", "--requested-by", "alice", "--break-glass")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)

	var res contract.InvalidationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.True(t, res.BreakGlass)
	requireTimeline(t, res.Timeline, "authops", "preempt rotation", "released")
	requireTimeline(t, res.Timeline, "alice", "BREAK GLASS", "proceeding without a second approver")

	// The preempted rotation says so on its own timeline, and ended canceled.
	d, err := env.Client.DescribeWorkflow(ctx, rotID, pendingRun)
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, d.RawResponse.WorkflowExecutionInfo.Status)
	var rotRes contract.RotationResult
	err = env.Client.GetWorkflow(ctx, rotID, pendingRun).Get(ctx, &rotRes)
	require.Error(t, err)
	v, err := env.Client.QueryWorkflow(ctx, rotID, pendingRun, contract.QueryTimeline)
	require.NoError(t, err)
	var tl []contract.Event
	require.NoError(t, v.Get(&tl))
	found := false
	for _, e := range tl {
		if e.Action == "canceled" && e.Outcome == contract.OutcomePreempted && strings.Contains(e.Detail, "preempted by "+id) {
			found = true
		}
	}
	require.True(t, found, "rotation timeline records the preemption: %+v", tl)

	// Break glass is flagged in the search attribute and announced for review.
	flagged, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	require.Contains(t, flagged.RawResponse.WorkflowExecutionInfo.SearchAttributes.String(), "AuthopsBreakGlass")
	review := false
	for _, m := range env.Notes.Messages() {
		if m.Kind == "break-glass-review" && len(m.Mention) > 0 {
			review = true
		}
	}
	require.True(t, review, "approvers are notified for review")
	env.CheckReplay(t, id, "", "invalidation-break-glass")
	env.CheckReplay(t, rotID, pendingRun, "rotation-preempted")
}

// TestInvalidationBadInput: each bad input gets a clear error and starts nothing.
func TestInvalidationBadInput(t *testing.T) {
	env := startStack(t, testenv.Options{})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing reason", []string{"invalidate", "--target", "demo", "--requested-by", "alice"}, "reason is required"},
		{"unknown target", []string{"invalidate", "--requested-by", "alice", "--target", "nope", "--reason", "x"}, `unknown target "nope"`},
		{"malformed route list", []string{"invalidate", "--requested-by", "alice", "--target", "demo", "--reason", "x", "--restrict", "/admin,,/billing"}, "malformed"},
		{"route not a path", []string{"invalidate", "--requested-by", "alice", "--target", "demo", "--reason", "x", "--restrict", "admin"}, "not a path prefix"},
		{"zero ttl", []string{"invalidate", "--requested-by", "alice", "--target", "demo", "--reason", "x", "--restrict", "/admin", "--restrict-ttl", "0s"}, "TTL must be positive"},
		{"negative ttl", []string{"invalidate", "--requested-by", "alice", "--target", "demo", "--reason", "x", "--restrict", "/admin", "--restrict-ttl", "-5m"}, "TTL must be positive"},
		{"break glass without reason", []string{"invalidate", "--requested-by", "alice", "--target", "demo", "--break-glass"}, "break glass needs a reason"},
		{"unknown requester", []string{"invalidate", "--target", "demo", "--reason", "x", "--requested-by", "mallory"}, "mallory"},
		{"control characters in the reason", []string{"invalidate", "--target", "demo", "--reason", "x\n12:00 bob approve accepted", "--requested-by", "alice"}, "control character"},
	}
	secret := env.Secret(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := env.Starter(t, c.args...)
			require.Error(t, err, out)
			require.Contains(t, out, c.want)
		})
	}
	var notFound *serviceerror.NotFound
	_, err := env.Client.DescribeWorkflow(context.Background(), contract.InvalidationID("demo"), "")
	require.True(t, errors.As(err, &notFound), "bad input must not start a run: %v", err)
	require.Equal(t, secret, env.Secret(t))
}

func getStatus(t *testing.T, url, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return status(t, req)
}
