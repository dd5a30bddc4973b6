package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/internal/testenv"
)

// TestDecisionRoundTrip measures how long a responder waits for the run's answer to a signed
// decision: the whole `starter approve` command (process start, config, signing, one Update), the
// Update call alone, and the old transport (a signal, then polling the timeline for the answer).
// Every decision here is the requester's own approval, which the run verifies, judges (denied)
// and records, so one run serves every sample.
func TestDecisionRoundTrip(t *testing.T) {
	if os.Getenv("AUTHOPS_BENCH") != "1" {
		t.Skip("benchmark: run with `make bench`")
	}
	runs := 20
	if v, err := strconv.Atoi(os.Getenv("AUTHOPS_BENCH_DECISIONS")); err == nil && v > 0 {
		runs = v
	}
	env := startStack(t, testenv.Options{})
	ctx := context.Background()
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "bench",
		"--window-start", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for window")
	_, first := signedApproval(t, env, id, "alice")
	decision := func() contract.Decision {
		d, _ := signedApproval(t, env, id, "alice")
		return d
	}

	var command, update, signal []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		out, err := env.Starter(t, "approve", id, "--as", "alice")
		command = append(command, time.Since(start))
		if err == nil || !strings.Contains(out, "denied") {
			t.Fatalf("want the run's denial, got %v: %s", err, out)
		}

		d := decision()
		start = time.Now()
		h, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			var ev contract.Event
			err = h.Get(ctx, &ev)
		}
		update = append(update, time.Since(start))
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("want the run's denial, got %v", err)
		}

		before := len(timeline(t, env, id))
		start = time.Now()
		if err := env.Client.SignalWorkflow(ctx, id, "", contract.DecisionApprove, decision()); err != nil {
			t.Fatal(err)
		}
		for len(timeline(t, env, id)) == before {
			time.Sleep(5 * time.Millisecond)
		}
		signal = append(signal, time.Since(start))
	}
	if err := env.Client.TerminateWorkflow(ctx, id, "", "bench done"); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nauthops decision round trip: %d samples each on %s (median, p95; min..max)\n", runs, hostname())
	fmt.Printf("  whole `starter approve` command, answer from the run:   %s\n", statsP95(command))
	fmt.Printf("  signed Update call alone, answer from the run:          %s\n", statsP95(update))
	fmt.Printf("  signed signal, then polling the timeline every 5 ms:    %s\n", statsP95(signal))
}

func timeline(t *testing.T, env *testenv.Env, id string) []contract.Event {
	t.Helper()
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryTimeline)
	if err != nil {
		t.Fatal(err)
	}
	var evs []contract.Event
	if err := v.Get(&evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// signedApproval is an approval of run id signed with actor's demo key, and the run's first
// execution run id it is bound to.
func signedApproval(t *testing.T, env *testenv.Env, id, actor string) (contract.Decision, string) {
	t.Helper()
	desc, err := env.Client.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	first := desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()
	key, err := os.ReadFile(env.Paths.KeyFile(actor))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := statement.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := statement.Sign(rand.Reader, signer, contract.Statement{
		Namespace: "default", WorkflowID: id, FirstRunID: first, Action: contract.DecisionApprove, Actor: actor,
		CommentHash: statement.HashComment(""), IssuedAt: time.Now().UTC(), Nonce: nonce, Client: "bench",
	})
	if err != nil {
		t.Fatal(err)
	}
	return contract.Decision{Actor: actor, Statement: &s}, first
}
