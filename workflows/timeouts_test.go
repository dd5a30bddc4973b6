package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
)

// TestTimeoutsComeFromThePolicy: the config's timeouts (timeouts: in runbook.yaml, carried by
// the policy) bound the run's activities once the policy is loaded; the fault suite relies on
// them being seconds.
func TestTimeoutsComeFromThePolicy(t *testing.T) {
	h := newRotationHarness(t)
	h.policy.Timeouts = contract.Timeouts{Activity: 7 * time.Second, Check: 11 * time.Second, Heartbeat: 3 * time.Second}
	var mu sync.Mutex
	seen := map[string]activity.Info{}
	started := func(info *activity.Info) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[info.ActivityType.Name]; !ok {
			seen[info.ActivityType.Name] = *info
		}
	}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) { started(info) })
	// The reads (policy, freezes, pre-checks) are local activities, with the same timeouts.
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) { started(info) })
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "lgtm")
	h.run(manualInput())
	require.Equal(t, contract.OutcomeCompleted, h.completed().Outcome)

	startToClose := func(name string) time.Duration {
		i, ok := seen[name]
		require.True(t, ok, "%s never ran", name)
		return i.Deadline.Sub(i.StartedTime).Round(time.Second)
	}
	assert.Equal(t, 7*time.Second, startToClose("CreatePendingSecret"), "quick activities: timeouts.activity")
	assert.Equal(t, 11*time.Second, startToClose("PreCheck"), "checks: timeouts.check")
	assert.Equal(t, 3*time.Second, seen["Validate"].HeartbeatTimeout, "heartbeating activities: timeouts.heartbeat")
	assert.Equal(t, 3*time.Second, seen["Deploy"].HeartbeatTimeout)
	// LoadPolicy runs before the policy is known, with the default.
	assert.Equal(t, 30*time.Second, startToClose("LoadPolicy"))
}
