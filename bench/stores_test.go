package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/internal/vaultfake"
)

// stepPromoted is the rotation's checklist step after its validation passed (workflows).
const stepPromoted = "mark new secret current"

// TestRotationByStore prints, for each secret store kind, the time of one rotation from the
// go-ahead (the approval, accepted) to the new secret verified and promoted, as the run's own
// timeline dates it. The Vault store runs against the repository's fake Vault on loopback, so
// its figure is the client's work plus loopback HTTP, not a real Vault's.
func TestRotationByStore(t *testing.T) {
	if os.Getenv("AUTHOPS_BENCH") != "1" {
		t.Skip("benchmark: run with `make bench`")
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("AUTHOPS_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	kinds := []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"file", func(*testing.T) string { return "" }},
		{"vault-fake-loopback", func(t *testing.T) string {
			const token = "hvs.bench-token-not-for-logs"
			fake := vaultfake.New(token)
			t.Cleanup(fake.Close)
			tokenFile := filepath.Join(t.TempDir(), "vault.token")
			if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return "{kind: vault, address: " + fake.URL + ", mount: secret, path: authops/demo/jwt, auth: {token: {file: " + tokenFile + "}}}"
		}},
	}
	fmt.Printf("\nauthops bench: rotation by secret store, %d runs each on %s (medians; min..max)\n", runs, hostname())
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			env := startStack(t, testenv.Options{SecretStore: k.store(t), ObservationWindow: time.Second})
			var verified []time.Duration
			for i := 0; i < runs; i++ {
				verified = append(verified, rotateApprovedOnce(t, env))
			}
			fmt.Printf("  %-24s go-ahead -> new secret verified and current: %s\n", k.name, stats(verified))
		})
	}
}

// rotateApprovedOnce runs one rotation of demo that bob approves, and returns the time from his accepted
// approval to the step that promotes the verified secret, from the run's timeline.
func rotateApprovedOnce(t *testing.T, env *testenv.Env) time.Duration {
	t.Helper()
	ctx := context.Background()
	out, err := env.Starter(t, "rotate", "--target", "demo", "--reason", "bench", "--requested-by", "alice")
	if err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	d, first := signedApproval(t, env, id, "bob")
	h, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ev contract.Event
	if err := h.Get(ctx, &ev); err != nil {
		t.Fatalf("approve %s: %v", id, err)
	}
	var res contract.RotationResult
	if err := env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("run %s: %v", id, err)
	}
	for _, e := range res.Timeline {
		if e.Action == stepPromoted && e.Outcome == contract.StateDone {
			return e.At.Sub(ev.At)
		}
	}
	t.Fatalf("run %s has no %q step done: %+v", id, stepPromoted, res.Timeline)
	return 0
}
