package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/testenv"
)

const slackSecret = "bench-slack-signing-secret"

// answers is a fake response_url: it counts the gateway's answers, by the query string the
// bench gave each request, and when they came.
type answers struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *answers) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.at[r.URL.Query().Get("n")] = time.Now()
	a.mu.Unlock()
}

func (a *answers) get(n string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[n]
	return t, ok
}

// TestSlackAck measures the gateway (bin/starter serve) on the local stack: the ack latency of
// AUTHOPS_BENCH_SLACK_CONCURRENT (100) signed `/runbook status` commands sent at once (Slack's
// limit is 3 s; the goal is p99 under 50 ms), the time to each command's answer through
// response_url, and the time from bob's signed click on Approve to the run's decision recorded
// (AUTHOPS_BENCH_SLACK_CLICKS samples, 5).
func TestSlackAck(t *testing.T) {
	skipUnlessBench(t)
	concurrent := size("AUTHOPS_BENCH_SLACK_CONCURRENT", 100)
	clicks := size("AUTHOPS_BENCH_SLACK_CLICKS", 5)
	keyFile, keys := testenv.GatewayKey(t)
	env := startStack(t, testenv.Options{ObservationWindow: time.Second, ExtraYAML: keys})
	base := env.StartGateway(t, keyFile, "SLACK_SIGNING_SECRET="+slackSecret)
	inbox := &answers{at: map[string]time.Time{}}
	hook := httptest.NewServer(inbox)
	defer hook.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent}}

	send := func(path, body string) (time.Duration, error) {
		req := testenv.SlackRequest(t, base+path, slackSecret, body)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("gateway answered %s", resp.Status)
		}
		return time.Since(start), nil
	}

	// A run to ask about, waiting for approval.
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "bench")
	if err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")

	acks := make([]time.Duration, concurrent)
	sent := make([]time.Time, concurrent)
	errs := make(chan error, concurrent)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := url.Values{"team_id": {"T1"}, "user_id": {"UBOB"}, "command": {"/runbook"}, "text": {"status " + id},
				"trigger_id": {fmt.Sprintf("bench-%d", i)}, "response_url": {fmt.Sprintf("%s/?n=%d", hook.URL, i)}}.Encode()
			<-gate
			sent[i] = time.Now()
			d, err := send("/slack/commands", body)
			if err != nil {
				errs <- err
			}
			acks[i] = d
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	answered := make([]time.Duration, concurrent)
	deadline := time.Now().Add(2 * time.Minute)
	for i := range concurrent {
		for {
			at, ok := inbox.get(fmt.Sprint(i))
			if ok {
				answered[i] = at.Sub(sent[i])
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no answer to command %d", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// bob's click on Approve, to the run's decision on its timeline; the run then completes
	// and the next sample starts a new one.
	var decided []time.Duration
	for i := range clicks {
		if i > 0 {
			out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "bench")
			if err != nil {
				t.Fatalf("start: %v %s", err, out)
			}
			waitPhase(t, env, id, "waiting for approval")
		}
		desc, err := env.Client.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		v := slackui.ButtonValue{WorkflowID: id, FirstRunID: desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()}
		payload, err := json.Marshal(map[string]any{
			"type": "block_actions", "team": map[string]string{"id": "T1"}, "user": map[string]string{"id": "UBOB"},
			"trigger_id": fmt.Sprintf("click-%d", i), "response_url": hook.URL + "/?n=click",
			"actions": []map[string]string{{"action_id": slackui.ActionApprove, "block_id": "b", "type": "button",
				"value": v.Encode(), "action_ts": fmt.Sprintf("%d.1", i)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := send("/slack/interactions", url.Values{"payload": {string(payload)}}.Encode()); err != nil {
			t.Fatal(err)
		}
		for !approvedBy(timeline(t, env, id), "bob") {
			if time.Since(start) > time.Minute {
				t.Fatalf("bob's click never reached the run; gateway: %s", env.WorkerLog.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		decided = append(decided, time.Since(start))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err = env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}

	fmt.Printf("\nauthops Slack gateway on %s (bin/starter serve on the local stack)\n", hostname())
	fmt.Printf("  ack of %d concurrent signed slash commands (goal p99 < 50 ms):   %s\n", concurrent, pcts(acks))
	fmt.Printf("  the same commands' answers through response_url:                %s\n", pcts(answered))
	fmt.Printf("  bob's click -> decision recorded on the run's timeline:          %s\n", pcts(decided))
}

func approvedBy(evs []contract.Event, who string) bool {
	for _, e := range evs {
		if e.Actor == who && e.Action == contract.DecisionApprove && e.Outcome == "accepted" {
			return true
		}
	}
	return false
}
